package influx

import (
	"bytes"
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "influx",
		Description: "writes each record as a point in InfluxDB 1.x line protocol over HTTP, chosen record fields as tags",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Influx).cfg },
	})
}

// New returns an unconfigured influx sink with the defaults in place.
func New() *Influx {
	return &Influx{cfg: Config{
		Address:      "http://localhost:8086",
		Measurement:  "analytics",
		Precision:    "ns",
		MaxBodyBytes: 8 << 20,
	}}
}

// Config is the influx pump's meta. database_name, address, username,
// password, fields and tags are iam's keys.
type Config struct {
	DatabaseName string `yaml:"database_name" help:"the database; it must exist (CREATE DATABASE iam)" required:"true"`
	// Address is the server's URL, http://host:8086.
	Address  string `yaml:"address" help:"the server; credentials in it (http://user:pass@host:8086) become basic auth"`
	Username string `yaml:"username" help:"sent as basic auth, never in the URL"`
	Password string `yaml:"password" help:"sent as basic auth, never in the URL"`
	// Fields are the record fields written as fields; empty means every
	// one that is not a tag.
	Fields []string `yaml:"fields" help:"record fields written as fields"`
	// Tags are the record fields written as tags (indexed; keep them to
	// few distinct values, such as username and effect).
	Tags []string `yaml:"tags" help:"record fields written as tags"`

	Measurement     string `yaml:"measurement" help:"iam-pump's measurement"`
	RetentionPolicy string `yaml:"retention_policy" help:"the rp to write to"`
	// Precision of the timestamps written: ns, u (or us), ms or s.
	Precision string `yaml:"precision" help:"ns, u, ms or s"`
	// MaxBodyBytes caps one write request; keep it below the server's
	// max-body-size (25 MB by default).
	MaxBodyBytes int `yaml:"max_body_bytes" help:"largest write request; below the server's max-body-size (25 MB)"`
}

// recordFields are the names fields and tags may use: iam's json names.
var recordFields = []string{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expireAt"}

// Influx writes records to InfluxDB 1.x with its HTTP /write endpoint.
type Influx struct {
	cfg      Config
	writeURL string
	pingURL  string
	fields   []string
	tags     []string
	perUnit  int64 // timestamp units per second
	client   *http.Client
	user     string
	password string
	secrets  redact.Secrets // the password, kept out of errors
}

// Configure implements pumps.Sink.
func (x *Influx) Configure(meta pumps.Meta) error {
	c := &x.cfg
	if err := pumps.DecodeMeta(meta, c); err != nil {
		return err
	}
	if c.DatabaseName == "" {
		return errors.New("meta.database_name: must name the database to write to")
	}
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("meta.address: want http(s)://host:port, got %q", redact.Text(c.Address))
	}
	x.user, x.password = c.Username, c.Password
	if u.User != nil {
		if x.user == "" {
			x.user = u.User.Username()
		}
		if pw, ok := u.User.Password(); ok && x.password == "" {
			x.password = pw
		}
		u.User = nil
	}
	x.secrets = redact.Secrets{}
	x.secrets.AddURLs(c.Address)
	x.secrets.Add(x.password)
	if x.password != "" && x.user == "" {
		return errors.New("meta.username: a password needs a username")
	}
	x.tags, err = pick("meta.tags", c.Tags)
	if err != nil {
		return err
	}
	isTag := map[string]bool{}
	for _, t := range x.tags {
		isTag[t] = true
	}
	x.fields, err = pick("meta.fields", c.Fields)
	if err != nil {
		return err
	}
	for _, f := range x.fields {
		if isTag[f] {
			return fmt.Errorf("meta.fields: %q is also a tag; a name is one or the other", f)
		}
	}
	if len(c.Fields) == 0 {
		x.fields = nil
		for _, f := range recordFields {
			if !isTag[f] {
				x.fields = append(x.fields, f)
			}
		}
		if len(x.fields) == 0 {
			return errors.New("meta.tags: every record field is a tag; a point needs at least one field")
		}
	}
	if c.Measurement == "" || !tagSafe(c.Measurement) || strings.HasPrefix(c.Measurement, "#") {
		return fmt.Errorf("meta.measurement: want a name without newlines or backslashes at the end or before , = and space, not starting with #, got %q", c.Measurement)
	}
	switch c.Precision {
	case "ns", "n":
		c.Precision, x.perUnit = "ns", 1e9
	case "u", "us", "µ":
		c.Precision, x.perUnit = "u", 1e6
	case "ms":
		x.perUnit = 1e3
	case "s":
		x.perUnit = 1
	default:
		return fmt.Errorf("meta.precision: want ns, u, ms or s, got %q", c.Precision)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("meta.max_body_bytes: must be at least 1024, got %d", c.MaxBodyBytes)
	}
	q := url.Values{"db": {c.DatabaseName}, "precision": {c.Precision}}
	if c.RetentionPolicy != "" {
		q.Set("rp", c.RetentionPolicy)
	}
	base := strings.TrimSuffix(u.String(), "/")
	x.writeURL = base + "/write?" + q.Encode()
	x.pingURL = base + "/ping"
	return nil
}

// pick checks names against the record's fields, keeping their order and
// dropping repeats.
func pick(key string, names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		known := false
		for _, f := range recordFields {
			known = known || f == n
		}
		if !known {
			return nil, fmt.Errorf("%s: unknown record field %q; want some of %s", key, n, strings.Join(recordFields, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Init implements pumps.Sink: it pings the server, so a wrong address
// shows at start-up.
func (x *Influx) Init(ctx context.Context) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // one per Write that may run at once (the pump's workers)
	x.client = &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, x.pingURL, nil)
	if err != nil {
		return pumps.Permanent(fmt.Errorf("influx: %w", err))
	}
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("influx: ping %s: %w", x.pingURL, x.secrets.Error(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Influxdb-Version") == "" {
		return fmt.Errorf("influx: ping %s: answered %s, not like InfluxDB 1.x", x.pingURL, resp.Status)
	}
	return nil
}

// Write implements pumps.Sink. A record whose tags line protocol cannot
// carry is rejected before sending; a request the server refuses (400:
// a field type conflict, say) is split in halves until the refused points
// are found, and those are rejected alone. Points are keyed by their
// record (see timestamp), so sending one twice stores it once.
func (x *Influx) Write(ctx context.Context, batch []analytics.Record) error {
	var (
		rejected []pumps.Rejection
		points   []point
		body     []byte
	)
	for i := range batch {
		start := len(body)
		line, err := x.appendLine(body, &batch[i])
		if err != nil {
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("influx: %w", err)})
			continue
		}
		body = line
		points = append(points, point{index: i, start: start, end: len(body)})
	}
	for len(points) > 0 {
		n, size := 0, 0
		for n < len(points) && (n == 0 || size+points[n].len() <= x.cfg.MaxBodyBytes) {
			size += points[n].len()
			n++
		}
		rej, err := x.send(ctx, body, points[:n])
		if err != nil {
			return err
		}
		rejected = append(rejected, rej...)
		points = points[n:]
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// point is one record's line in the request body.
type point struct{ index, start, end int }

func (p point) len() int { return p.end - p.start }

// send writes points (their lines are consecutive in body). On 400 or 413
// it halves the request until it finds the points refused.
func (x *Influx) send(ctx context.Context, body []byte, points []point) ([]pumps.Rejection, error) {
	lines := body[points[0].start:points[len(points)-1].end]
	status, msg, err := x.post(ctx, lines)
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusNoContent || status == http.StatusOK:
		return nil, nil
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		if len(points) == 1 {
			return []pumps.Rejection{{Index: points[0].index,
				Err: fmt.Errorf("influx: point refused: %d %s", status, msg)}}, nil
		}
		half := len(points) / 2
		a, err := x.send(ctx, body, points[:half])
		if err != nil {
			return nil, err
		}
		b, err := x.send(ctx, body, points[half:])
		return append(a, b...), err
	default:
		// 401/403 (credentials), 404 (no such database), 5xx, ...: an
		// operator or time fixes these; the records wait.
		return nil, fmt.Errorf("influx: write to database %q: %d %s", x.cfg.DatabaseName, status, msg)
	}
}

func (x *Influx) post(ctx context.Context, lines []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.writeURL, bytes.NewReader(lines))
	if err != nil {
		return 0, "", pumps.Permanent(fmt.Errorf("influx: %w", err))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if x.user != "" {
		req.SetBasicAuth(x.user, x.password)
	}
	resp, err := x.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("influx: write %d bytes: %w", len(lines), x.secrets.Error(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, resp.Body)
	msg := resp.Header.Get("X-Influxdb-Error")
	if msg == "" {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		} else {
			msg = strings.TrimSpace(string(raw))
		}
	}
	msg = http.StatusText(resp.StatusCode) + ": " + msg
	msg = x.secrets.String(msg)
	return resp.StatusCode, msg, nil
}

// appendLine renders one point:
//
//	measurement,tag=value,... field=value,... timestamp
func (x *Influx) appendLine(b []byte, r *analytics.Record) ([]byte, error) {
	b = escape(b, x.cfg.Measurement, ", ")
	for _, t := range x.tags {
		v := stringValue(r, t)
		if v == "" {
			continue // line protocol has no empty tag values
		}
		if !tagSafe(v) {
			return nil, fmt.Errorf("tag %s value %q cannot be written in line protocol (a newline, or a backslash before , = space or at the end)", t, v)
		}
		b = append(b, ',')
		b = append(b, t...)
		b = append(b, '=')
		b = escape(b, v, ",= ")
	}
	for i, f := range x.fields {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		b = append(b, f...)
		b = append(b, '=')
		if f == "timestamp" {
			b = strconv.AppendInt(b, r.TimeStamp, 10)
			b = append(b, 'i')
			continue
		}
		b = append(b, '"')
		b = escape(b, stringValue(r, f), `"\`)
		b = append(b, '"')
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, x.timestamp(r), 10)
	return append(b, '\n'), nil
}

// timestamp places the point at the decision's second. A record has no
// finer time, so the rest of the second is filled from the record's id:
// decisions of one second get distinct points instead of overwriting one
// another (InfluxDB keys a point by series and time), and the same record
// sent twice lands on the same point. With precision s there is no room,
// and decisions of one second with the same tags overwrite each other.
func (x *Influx) timestamp(r *analytics.Record) int64 {
	t := r.TimeStamp * x.perUnit
	if x.perUnit > 1 && len(r.Raw) > 0 {
		sum := sha1.Sum(r.Raw)
		t += int64(binary.BigEndian.Uint64(sum[:8]) % uint64(x.perUnit))
	}
	return t
}

// stringValue is a record field as text; timestamp in decimal and expireAt
// in RFC 3339 with nanoseconds.
func stringValue(r *analytics.Record, name string) string {
	switch name {
	case "timestamp":
		return strconv.FormatInt(r.TimeStamp, 10)
	case "username":
		return r.Username
	case "effect":
		return r.Effect
	case "conclusion":
		return r.Conclusion
	case "request":
		return r.Request
	case "policies":
		return r.Policies
	case "deciders":
		return r.Deciders
	case "expireAt":
		return r.ExpireAt.Format(time.RFC3339Nano)
	}
	return ""
}

// tagSafe reports whether line protocol can carry v as a tag value: it
// has no way to write a newline there, and a backslash is literal in tag
// values except before the characters escaping is for, so a backslash at
// the end or before , = or space cannot be told from an escape.
func tagSafe(v string) bool {
	if strings.ContainsAny(v, "\n\r") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && (i == len(v)-1 || strings.IndexByte(",= ", v[i+1]) >= 0) {
			return false
		}
	}
	return true
}

// escape appends s with a backslash before each byte in special.
func escape(b []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// WritesConcurrently implements pumps.Concurrent: a point is keyed by its
// record (see timestamp), so batches may be written at once and in any
// order; a Write shares nothing but the HTTP client.
func (x *Influx) WritesConcurrently() {}

// Close implements pumps.Sink. Every batch is written when Write returns;
// Close drops idle connections.
func (x *Influx) Close(context.Context) error {
	if x.client != nil {
		x.client.CloseIdleConnections()
	}
	return nil
}

var _ pumps.Concurrent = (*Influx)(nil)
