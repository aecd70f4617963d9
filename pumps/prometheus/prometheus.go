package prometheus

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/server/limits"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "prometheus",
		Description: "counts decisions per user and result as iam_user_authorization_status_total, served on /metrics",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Prometheus).cfg },
	})
}

// OtherUsername is the username label of decisions by users beyond the
// first max_usernames.
const OtherUsername = "other"

// New returns an unconfigured prometheus sink with the defaults in place.
func New() *Prometheus {
	return &Prometheus{cfg: Config{MaxUsernames: 1000, Path: "/metrics"}}
}

// Config is the prometheus pump's meta. listen_address and path are iam's
// keys: iam served its metrics on their own listener; here that listener
// is optional, since the daemon's HTTP server serves the sink's metrics on
// its own /metrics.
type Config struct {
	// MaxUsernames bounds the username label: the first MaxUsernames
	// distinct usernames get a series each, later ones count as "other".
	MaxUsernames int `yaml:"max_usernames" help:"distinct usernames that get series of their own; decisions of later users count under username=\"other\", so a flood of usernames cannot blow up Prometheus"`
	// ConstLabels are added to every series, so two prometheus pumps can be
	// told apart (and registered together).
	ConstLabels map[string]string `yaml:"const_labels" help:"labels added to every series, e.g. {site: eu-1}; needed to run two prometheus pumps in one daemon (their series would collide otherwise)"`
	// ListenAddress, when set, serves the metrics on a listener of this
	// sink's own, at Path.
	ListenAddress string `yaml:"listen_address" help:"iam's key: also serve the metrics on a listener of this pump's own, as iam-pump did (0.0.0.0:9090)"`
	Path          string `yaml:"path" help:"iam's key: the path on that listener"`
}

// Prometheus counts authorization decisions. It is a prometheus.Collector
// of its own metrics, registered by whoever serves them: it touches no
// global registry.
type Prometheus struct {
	cfg Config

	status  *prometheus.CounterVec
	tracked prometheus.Gauge

	mu    sync.Mutex
	users map[string]struct{}

	srv  *http.Server
	addr string // where srv listens
	done chan error
}

// Configure implements pumps.Sink.
func (p *Prometheus) Configure(meta pumps.Meta) error {
	c := &p.cfg
	if err := pumps.DecodeMeta(meta, c); err != nil {
		return err
	}
	if c.MaxUsernames < 1 {
		return fmt.Errorf("meta.max_usernames: must be 1 or more, got %d", c.MaxUsernames)
	}
	names := make([]string, 0, len(c.ConstLabels))
	for name := range c.ConstLabels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__") {
			return fmt.Errorf("meta.const_labels.%s: not a valid label name (letters, digits and _, not starting with a digit or __)", name)
		}
		if name == "code" || name == "username" {
			return fmt.Errorf("meta.const_labels.%s: the metric has this label already", name)
		}
	}
	if c.ListenAddress != "" {
		if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
			return fmt.Errorf("meta.listen_address: want host:port such as 0.0.0.0:9090, got %q", c.ListenAddress)
		}
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("meta.path: want a URL path starting with /, got %q", c.Path)
	}
	p.status = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "iam_user_authorization_status_total",
		Help:        `Authorization decisions by result and user: code "0" is allowed, "1" denied (iam's codes). Users beyond max_usernames count as username "other".`,
		ConstLabels: c.ConstLabels,
	}, []string{"code", "username"})
	p.tracked = prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "iam_user_authorization_tracked_usernames",
		Help:        "Distinct usernames with a series of their own in iam_user_authorization_status_total; at max_usernames, new users count as \"other\".",
		ConstLabels: c.ConstLabels,
	})
	p.users = make(map[string]struct{})
	return nil
}

// Describe implements prometheus.Collector.
func (p *Prometheus) Describe(ch chan<- *prometheus.Desc) {
	if p.status == nil {
		return
	}
	p.status.Describe(ch)
	p.tracked.Describe(ch)
}

// Collect implements prometheus.Collector.
func (p *Prometheus) Collect(ch chan<- prometheus.Metric) {
	if p.status == nil {
		return
	}
	p.status.Collect(ch)
	p.tracked.Collect(ch)
}

// Init implements pumps.Sink. With listen_address it starts that listener;
// otherwise there is nothing to connect to.
func (p *Prometheus) Init(context.Context) error {
	if p.cfg.ListenAddress == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(p); err != nil {
		return pumps.Permanent(fmt.Errorf("prometheus: register metrics: %w", err))
	}
	// The same bounds as the daemon's own server: anyone who reaches the
	// port may connect.
	lim := limits.Default()
	ln, err := lim.Listen(p.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("prometheus: listen on %s: %w", p.cfg.ListenAddress, err)
	}
	p.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle(p.cfg.Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	p.srv = lim.Server(mux)
	p.done = make(chan error, 1)
	go func() { p.done <- p.srv.Serve(ln) }()
	return nil
}

// Write implements pumps.Sink. Counting cannot fail.
func (p *Prometheus) Write(_ context.Context, batch []analytics.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range batch {
		code := "1"
		if batch[i].Effect == "allow" {
			code = "0"
		}
		p.status.WithLabelValues(code, p.usernameLabel(batch[i].Username)).Inc()
	}
	p.tracked.Set(float64(len(p.users)))
	return nil
}

// usernameLabel bounds the label's values: a user seen before keeps its
// series, a new one gets its own while there is room. p.mu is held.
func (p *Prometheus) usernameLabel(u string) string {
	if _, ok := p.users[u]; ok {
		return u
	}
	if len(p.users) < p.cfg.MaxUsernames {
		p.users[u] = struct{}{}
		return u
	}
	return OtherUsername
}

// Close implements pumps.Sink: it stops the sink's own listener, if any.
// The counters stay readable, so a last scrape still sees them.
func (p *Prometheus) Close(ctx context.Context) error {
	if p.srv == nil {
		return nil
	}
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	p.srv = nil
	if err != nil {
		return fmt.Errorf("prometheus: stop listener on %s: %w", p.cfg.ListenAddress, err)
	}
	return nil
}

var (
	_ pumps.Sink           = (*Prometheus)(nil)
	_ prometheus.Collector = (*Prometheus)(nil)
)
