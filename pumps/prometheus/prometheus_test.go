package prometheus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

const metric = "iam_user_authorization_status_total"

func seeded(from, to int) []analytics.Record {
	out := make([]analytics.Record, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, testutil.MakeRecord(i))
	}
	return out
}

func newSink(t testing.TB, meta pumps.Meta) *Prometheus {
	return testutil.StartSink(t, New(), meta)
}

// serve exposes collectors the way the daemon does: on a registry of its
// own, through promhttp, on a real HTTP server.
func serve(t testing.TB, cs ...prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// scrape fetches url and parses the text exposition format.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := tryScrape(url)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

func tryScrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s %v\n%s", url, resp.Status, err, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse the scrape of %s: %w\n%s", url, err, body)
	}
	return families, nil
}

// series maps "code/username" to the counter's value.
func series(t testing.TB, families map[string]*dto.MetricFamily) map[string]float64 {
	t.Helper()
	mf, ok := families[metric]
	if !ok {
		t.Fatalf("no %s in the scrape", metric)
	}
	if mf.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s is a %v, want a counter", metric, mf.GetType())
	}
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		var code, user string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "code":
				code = l.GetValue()
			case "username":
				user = l.GetValue()
			}
		}
		out[code+"/"+user] = m.GetCounter().GetValue()
	}
	return out
}

// expected counts a batch the way iam does: code 0 for allow, 1 otherwise.
func expected(batches ...[]analytics.Record) map[string]float64 {
	out := map[string]float64{}
	for _, b := range batches {
		for _, r := range b {
			code := "1"
			if r.Effect == "allow" {
				code = "0"
			}
			out[code+"/"+r.Username]++
		}
	}
	return out
}

func equal(t testing.TB, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("series %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestConfigureRejectsBadMeta(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"no usernames allowed", pumps.Meta{"max_usernames": 0}, "meta.max_usernames: must be 1 or more, got 0"},
		{"max_usernames not a number", pumps.Meta{"max_usernames": "many"}, `meta.max_usernames: want a whole number, got "many"`},
		{"bad label name", pumps.Meta{"const_labels": map[string]any{"1site": "eu"}}, "meta.const_labels.1site: not a valid label name"},
		{"reserved label name", pumps.Meta{"const_labels": map[string]any{"__name__": "x"}}, "meta.const_labels.__name__: not a valid label name"},
		{"label the metric has", pumps.Meta{"const_labels": map[string]any{"username": "x"}}, "meta.const_labels.username: the metric has this label already"},
		{"listen address without port", pumps.Meta{"listen_address": "localhost"}, `meta.listen_address: want host:port such as 0.0.0.0:9090, got "localhost"`},
		{"relative path", pumps.Meta{"path": "metrics"}, `meta.path: want a URL path starting with /, got "metrics"`},
		{"typo", pumps.Meta{"max_username": 5}, `meta.max_username: unknown key (did you mean "max_usernames"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Configure(%v) = %v, want an error starting %q", tt.meta, err, tt.want)
			}
		})
	}
}

func TestScrapeCountsEveryDecision(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]analytics.Record
	}{
		{"iam's golden records", [][]analytics.Record{nil}},
		{"one batch", [][]analytics.Record{seeded(0, 1000)}},
		{"counters add up over batches", [][]analytics.Record{seeded(0, 10), seeded(10, 500), nil, seeded(500, 501)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.batches[0] == nil {
				tt.batches[0] = testutil.GoldenDecoded(t)
			}
			p := newSink(t, pumps.Meta{})
			url := serve(t, p)
			for _, b := range tt.batches {
				if err := p.Write(context.Background(), b); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			equal(t, series(t, scrape(t, url)), expected(tt.batches...))
		})
	}
	t.Run("iam's codes for the golden records", func(t *testing.T) {
		p := newSink(t, pumps.Meta{})
		if err := p.Write(context.Background(), testutil.GoldenDecoded(t)); err != nil {
			t.Fatal(err)
		}
		// peter was allowed; maria and the record without a username denied.
		equal(t, series(t, scrape(t, serve(t, p))), map[string]float64{"0/peter": 1, "1/maria": 1, "1/": 1})
	})
}

func TestUsernameCardinalityIsBounded(t *testing.T) {
	tests := []struct {
		max       int
		wantUsers int
	}{
		{max: 3, wantUsers: 3},
		{max: 1, wantUsers: 1},
		{max: 7, wantUsers: 7}, // exactly the seeded users: no "other"
		{max: 1000, wantUsers: 7},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max_usernames %d", tt.max), func(t *testing.T) {
			p := newSink(t, pumps.Meta{"max_usernames": tt.max})
			url := serve(t, p)
			batch := seeded(0, 700) // users user-0 .. user-6, in order of first appearance
			if err := p.Write(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			// A user first seen before the bound keeps its own series.
			if err := p.Write(context.Background(), seeded(0, 1)); err != nil {
				t.Fatal(err)
			}
			families := scrape(t, url)
			got := series(t, families)
			users := map[string]bool{}
			var total float64
			for k, v := range got {
				users[strings.SplitN(k, "/", 2)[1]] = true
				total += v
			}
			if total != 701 {
				t.Fatalf("the series add up to %v decisions, want 701: %v", total, got)
			}
			wantLabels := tt.wantUsers
			if tt.wantUsers < 7 {
				wantLabels++ // "other"
				if !users[OtherUsername] {
					t.Fatalf("no %q series with max_usernames %d: %v", OtherUsername, tt.max, got)
				}
			}
			if len(users) != wantLabels {
				t.Fatalf("%d username label values, want %d: %v", len(users), wantLabels, got)
			}
			for i := 0; i < tt.wantUsers; i++ {
				if !users[fmt.Sprintf("user-%d", i)] {
					t.Fatalf("user-%d, among the first %d, has no series: %v", i, tt.max, got)
				}
			}
			if want := expected(batch, seeded(0, 1))["1/user-0"]; got["1/user-0"] != want {
				t.Fatalf("user-0 denied %v times, want %v", got["1/user-0"], want)
			}
			tracked := families["iam_user_authorization_tracked_usernames"]
			if tracked == nil || tracked.GetMetric()[0].GetGauge().GetValue() != float64(tt.wantUsers) {
				t.Fatalf("iam_user_authorization_tracked_usernames = %v, want %d", tracked, tt.wantUsers)
			}
		})
	}
}

func TestConstLabelsLetTwoPumpsShareARegistry(t *testing.T) {
	a := newSink(t, pumps.Meta{"const_labels": map[string]any{"pump": "a"}})
	b := newSink(t, pumps.Meta{"const_labels": map[string]any{"pump": "b"}})
	url := serve(t, a, b)
	if err := a.Write(context.Background(), seeded(0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(context.Background(), seeded(0, 5)); err != nil {
		t.Fatal(err)
	}
	totals := map[string]float64{}
	for _, m := range scrape(t, url)[metric].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "pump" {
				totals[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	if totals["a"] != 3 || totals["b"] != 5 {
		t.Fatalf("decisions per pump %v, want a=3 b=5", totals)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(newSink(t, pumps.Meta{}))
	if err := reg.Register(newSink(t, pumps.Meta{})); err == nil {
		t.Fatal("two prometheus pumps without const_labels registered on one registry")
	}
}

func TestListenAddressServesItsOwnMetrics(t *testing.T) {
	p := newSink(t, pumps.Meta{"listen_address": "127.0.0.1:0", "path": "/iam-metrics"})
	batch := seeded(0, 50)
	if err := p.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	equal(t, series(t, scrape(t, "http://"+p.addr+"/iam-metrics")), expected(batch))
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get("http://" + p.addr + "/iam-metrics"); err == nil {
		t.Fatal("the listener still answers after Close")
	}
}

func TestInitFailsWhenTheListenAddressIsTaken(t *testing.T) {
	p := newSink(t, pumps.Meta{"listen_address": "127.0.0.1:0"})
	q := New()
	if err := q.Configure(pumps.Meta{"listen_address": p.addr}); err != nil {
		t.Fatal(err)
	}
	if err := q.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on "+p.addr) {
		t.Fatalf("Init on a taken address = %v, want a listen error", err)
	}
}

func BenchmarkWrite(b *testing.B) {
	p := newSink(b, pumps.Meta{})
	url := serve(b, p)
	testutil.BenchmarkWrites(b, p, seeded(0, 1000))
	b.StopTimer()
	if got := series(b, scrape(b, url))["1/user-0"]; got == 0 {
		b.Fatal("nothing counted")
	}
}

func TestEndToEndThroughTheDaemon(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 5000
	r := testutil.StartRedis(t)
	testutil.PushGolden(t, r)
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
	own := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	d := testutil.WriteConfig(t, r.Port,
		"  prom:\n    type: prometheus\n    meta: {max_usernames: 5, listen_address: \""+own+"\", path: /iam}\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)

	// The golden records' users come first: peter, maria and "", then
	// user-0 and user-1 fill the five; user-2 .. user-6 count as other.
	want := map[string]float64{"0/peter": 1, "1/maria": 1, "1/": 1}
	for k, v := range expected(seeded(0, n)) {
		code, user, _ := strings.Cut(k, "/")
		if user != "user-0" && user != "user-1" {
			user = OtherUsername
		}
		want[code+"/"+user] += v
	}
	daemonMetrics := "http://" + d.HealthAddr + "/metrics"
	testutil.Eventually(t, time.Minute, "every decision counted on the daemon's /metrics", func() bool {
		families, err := tryScrape(daemonMetrics)
		if err != nil || families[metric] == nil {
			return false
		}
		var total float64
		for _, v := range series(t, families) {
			total += v
		}
		return total == n+3
	})
	equal(t, series(t, scrape(t, daemonMetrics)), want)
	equal(t, series(t, scrape(t, "http://"+own+"/iam")), want)

	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
}

func TestValidateNamesTheBadKey(t *testing.T) {
	testutil.NeedsBinary(t)
	tests := []struct {
		meta, want string
	}{
		{"{max_usernames: -1}", "pumps.prom.meta.max_usernames: must be 1 or more, got -1"},
		{"{listen_address: nowhere}", `pumps.prom.meta.listen_address: want host:port such as 0.0.0.0:9090, got "nowhere"`},
		{"{const_labels: {code: x}}", "pumps.prom.meta.const_labels.code: the metric has this label already"},
		{"{listen_adress: x}", `pumps.prom.meta.listen_adress: unknown key (did you mean "listen_address"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.meta, func(t *testing.T) {
			testutil.ValidateRejects(t, "  prom:\n    type: prometheus\n    meta: "+tt.meta+"\n", tt.want)
		})
	}
}
