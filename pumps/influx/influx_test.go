package influx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// influxd is a real InfluxDB 1.x server (Debian's influxdb package) owned by
// one test: free loopback ports, a temp dir, a generated config.
type influxd struct {
	t    testing.TB
	URL  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	user string // admin, when auth is on
	pass string
}

// startInfluxd starts a server; with auth it has an admin user. The test
// fails when influxd is missing: `make test` (scripts/test-deps.sh)
// installs it.
func startInfluxd(t testing.TB, auth bool) *influxd {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		t.Fatalf("influxd (InfluxDB 1.x) is not installed; scripts/test-deps.sh, run by make test, installs Debian's influxdb package: %v", err)
	}
	s := &influxd{t: t, dir: t.TempDir(), done: make(chan struct{})}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  bind-address = %q
  auth-enabled = %v
  log-enabled = false
  pprof-enabled = false
`, testutil.FreePort(t), filepath.Join(s.dir, "meta"), filepath.Join(s.dir, "data"), filepath.Join(s.dir, "wal"), httpAddr, auth)
	confPath := filepath.Join(s.dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(s.dir, "influxd.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "run", "-config", confPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = []string{"HOME=" + s.dir} // no INFLUXDB_* from the environment
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start influxd: %v", err)
	}
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(s.dir, "influxd.log"))
			t.Logf("influxd log:\n%s", b)
		}
	})
	s.URL = "http://" + httpAddr
	testutil.Eventually(t, 30*time.Second, "influxd answers /ping on "+httpAddr, func() bool {
		return testutil.HTTPStatus(s.URL+"/ping") == http.StatusNoContent
	})
	if auth {
		s.query("", "CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES") // the first user needs no auth
		s.user, s.pass = "admin", "admin-pw"
	}
	return s
}

func (s *influxd) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
}

// query runs InfluxQL and returns the first statement's series; an error
// in the answer fails the test.
func (s *influxd) query(db, q string) []series {
	s.t.Helper()
	v := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		v.Set("db", db)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("query %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Series []series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || out.Error != "" || len(out.Results) == 0 || out.Results[0].Error != "" {
		s.t.Fatalf("query %q: %s %v\n%s", q, resp.Status, err, body)
	}
	return out.Results[0].Series
}

type series struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values"`
}

// row is one point read back: time, tags and fields by name.
type row struct {
	time   int64
	values map[string]any
}

// points reads every point of the measurement back.
func (s *influxd) points(db, from string) []row {
	s.t.Helper()
	var out []row
	for _, ser := range s.query(db, "SELECT * FROM "+from) {
		for _, vals := range ser.Values {
			p := row{values: map[string]any{}}
			for i, col := range ser.Columns {
				if col == "time" {
					n, err := vals[i].(json.Number).Int64()
					if err != nil {
						s.t.Fatalf("time %v: %v", vals[i], err)
					}
					p.time = n
					continue
				}
				if vals[i] != nil {
					p.values[col] = vals[i]
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// asRecord turns a point back into the record it was written from.
func asRecord(t testing.TB, p row) analytics.Record {
	t.Helper()
	str := func(k string) string {
		v, ok := p.values[k].(string)
		if !ok && p.values[k] != nil {
			t.Fatalf("%s is %T, want a string", k, p.values[k])
		}
		return v
	}
	var r analytics.Record
	if n, ok := p.values["timestamp"].(json.Number); ok {
		ts, err := n.Int64()
		if err != nil {
			t.Fatal(err)
		}
		r.TimeStamp = ts
	} else if p.values["timestamp"] != nil {
		t.Fatalf("timestamp is %T %v, want an integer", p.values["timestamp"], p.values["timestamp"])
	}
	r.Username, r.Effect, r.Conclusion = str("username"), str("effect"), str("conclusion")
	r.Request, r.Policies, r.Deciders = str("request"), str("policies"), str("deciders")
	if e := str("expireAt"); e != "" {
		exp, err := time.Parse(time.RFC3339Nano, e)
		if err != nil {
			t.Fatalf("expireAt %q: %v", e, err)
		}
		r.ExpireAt = exp
	}
	return r
}

func newSink(t testing.TB, meta pumps.Meta) *Influx {
	return testutil.StartSink(t, New(), meta)
}

func TestConfigureRejectsBadMeta(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"no database", pumps.Meta{}, "meta.database_name: must name the database to write to"},
		{"address without scheme", pumps.Meta{"database_name": "iam", "address": "localhost:8086"}, `meta.address: want http(s)://host:port, got "localhost:8086"`},
		{"password in a bad address stays hidden", pumps.Meta{"database_name": "iam", "address": "ftp://u:s3cret@h"}, `meta.address: want http(s)://host:port, got "ftp://u:<redacted>@h"`},
		{"password without user", pumps.Meta{"database_name": "iam", "password": "pw"}, "meta.username: a password needs a username"},
		{"unknown tag", pumps.Meta{"database_name": "iam", "tags": []any{"user"}}, `meta.tags: unknown record field "user"; want some of timestamp, username,`},
		{"unknown field", pumps.Meta{"database_name": "iam", "fields": []any{"ExpireAt"}}, `meta.fields: unknown record field "ExpireAt"`},
		{"both tag and field", pumps.Meta{"database_name": "iam", "tags": []any{"effect"}, "fields": []any{"effect"}}, `meta.fields: "effect" is also a tag`},
		{"everything a tag", pumps.Meta{"database_name": "iam", "tags": []any{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expireAt"}},
			"meta.tags: every record field is a tag; a point needs at least one field"},
		{"tags not a list", pumps.Meta{"database_name": "iam", "tags": "username"}, `meta.tags: want a list of string, got "username"`},
		{"minute precision", pumps.Meta{"database_name": "iam", "precision": "m"}, `meta.precision: want ns, u, ms or s, got "m"`},
		{"measurement with a newline", pumps.Meta{"database_name": "iam", "measurement": "a\nb"}, "meta.measurement: want a name without newlines"},
		{"tiny requests", pumps.Meta{"database_name": "iam", "max_body_bytes": 10}, "meta.max_body_bytes: must be at least 1024, got 10"},
		{"typo", pumps.Meta{"databse_name": "iam"}, `meta.databse_name: unknown key (did you mean "database_name"?)`},
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

func TestLineProtocol(t *testing.T) {
	rec := analytics.Record{
		TimeStamp: 1764057600, Username: `a b,c=d`, Effect: "allow", Conclusion: `say "hi" \ bye`,
		Request: "line1\nline2", ExpireAt: time.Date(2126, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"tags escaped, strings quoted", pumps.Meta{"tags": []any{"username", "effect"}, "fields": []any{"conclusion", "timestamp"}, "precision": "s"},
			`analytics,username=a\ b\,c\=d,effect=allow conclusion="say \"hi\" \\ bye",timestamp=1764057600i 1764057600` + "\n"},
		{"empty tag left out, newline kept in a field", pumps.Meta{"tags": []any{"policies"}, "fields": []any{"request", "expireAt"}, "precision": "s", "measurement": "iam decisions"},
			`iam\ decisions request="line1` + "\n" + `line2",expireAt="2126-01-02T03:04:05.000000006Z" 1764057600` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.meta["database_name"] = "iam"
			x := New()
			if err := x.Configure(tt.meta); err != nil {
				t.Fatal(err)
			}
			got, err := x.appendLine(nil, &rec)
			if err != nil || string(got) != tt.want {
				t.Fatalf("line %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestWriteStoresEveryRecord(t *testing.T) {
	srv := startInfluxd(t, false)
	tests := []struct {
		name      string
		meta      pumps.Meta
		precision int64 // units per second
	}{
		{"iam's tags, every other record field a field", pumps.Meta{"tags": []any{"username", "effect"}}, 1e9},
		{"all fields, microseconds", pumps.Meta{"precision": "u"}, 1e6},
		{"milliseconds, tags only username", pumps.Meta{"precision": "ms", "tags": []any{"username"}}, 1e3},
		// With precision s, points of one second and series overwrite each
		// other: the golden records share seconds with rec-0..2.
		{"seconds, small requests", pumps.Meta{"precision": "s", "max_body_bytes": 4096, "tags": []any{"username"}}, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := fmt.Sprintf("iam%d", i)
			srv.query("", "CREATE DATABASE "+db)
			tt.meta["address"], tt.meta["database_name"] = srv.URL, db
			x := newSink(t, tt.meta)
			golden := testutil.GoldenDecoded(t)
			batch := append(append([]analytics.Record(nil), golden...), testutil.Records(t, 0, 1000)...)
			if err := testutil.Write(t, x, batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			pts := srv.points(db, "analytics")
			if len(pts) != len(batch) {
				t.Fatalf("%d points stored, want %d", len(pts), len(batch))
			}
			byID := map[string]row{}
			var goldenPts []row
			for _, p := range pts {
				r := asRecord(t, p)
				if id := testutil.IDOf(r); id != "" {
					byID[id] = p
				} else {
					goldenPts = append(goldenPts, p)
				}
			}
			sort.Slice(goldenPts, func(i, j int) bool { return goldenPts[i].time < goldenPts[j].time })
			want := testutil.GoldenExpected(t)
			for i, p := range goldenPts { // by time: the golden records are one second apart
				if got := asRecord(t, p); !testutil.SameRecord(got, want[i]) {
					t.Errorf("golden record %d stored as %+v, want %+v", i, got, want[i])
				}
				if sec := p.time / 1e9; sec != want[i].TimeStamp {
					t.Errorf("golden record %d stored at second %d, want %d", i, sec, want[i].TimeStamp)
				}
			}
			for _, r := range batch[len(golden):] {
				p, ok := byID[testutil.IDOf(r)]
				if !ok {
					t.Fatalf("record %s not stored", testutil.IDOf(r))
				}
				if got := asRecord(t, p); !testutil.SameRecord(got, r) {
					t.Fatalf("record %s stored as %+v, want %+v", testutil.IDOf(r), got, r)
				}
				// Read back in nanoseconds whatever the precision written.
				if want := x.timestamp(&r) * (1e9 / tt.precision); p.time != want || p.time/1e9 != r.TimeStamp {
					t.Fatalf("record %s stored at %d, want %d, in second %d", testutil.IDOf(r), p.time, want, r.TimeStamp)
				}
			}
		})
	}
}

func TestDecisionsOfOneSecondAreKeptAndResendingStoresOnce(t *testing.T) {
	srv := startInfluxd(t, false)
	srv.query("", "CREATE DATABASE iam")
	x := newSink(t, pumps.Meta{"address": srv.URL, "database_name": "iam", "tags": []any{"effect"}})
	batch := testutil.Records(t, 0, 300)
	for i := range batch {
		batch[i].TimeStamp = 1764057600 // all in one second, few series
	}
	for i := 0; i < 2; i++ {
		if err := testutil.Write(t, x, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.points("iam", "analytics")); n != len(batch) {
		t.Fatalf("%d points stored from %d records written twice, want %d", n, len(batch), len(batch))
	}
}

func TestWriteRejectsOnlyThePointsRefused(t *testing.T) {
	srv := startInfluxd(t, false)
	srv.query("", "CREATE DATABASE iam")
	x := newSink(t, pumps.Meta{"address": srv.URL, "database_name": "iam", "tags": []any{"username"}})
	batch := testutil.Records(t, 0, 200)
	// Record 50 falls in a shard of its own (2001), where "request" is
	// already an integer: a field type conflict for that point alone.
	batch[50].TimeStamp = 978307200
	conflict := analytics.Record{TimeStamp: 978307200}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/write?db=iam&precision=s",
		strings.NewReader(fmt.Sprintf("analytics request=1i %d\n", conflict.TimeStamp)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write the conflicting point: %v %v", resp, err)
	}
	// Record 120's username cannot be a tag value.
	batch[120].Username = "line\nbreak"
	err := testutil.Write(t, x, batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejections) != 2 {
		t.Fatalf("Write = %v, want records 50 and 120 rejected", err)
	}
	got := map[int]string{}
	for _, r := range rej.Rejections {
		got[r.Index] = r.Err.Error()
	}
	if !strings.Contains(got[50], "field type conflict") || !strings.Contains(got[120], "cannot be written in line protocol") {
		t.Fatalf("rejections %v, want 50 for the type conflict and 120 for the newline", got)
	}
	stored := 0
	for _, p := range srv.points("iam", "analytics") {
		if _, isInt := p.values["request"].(json.Number); isInt {
			continue // the conflicting point written above
		}
		if id := testutil.IDOf(asRecord(t, p)); id != "" {
			stored++
			if id == testutil.RecordID(50) || id == testutil.RecordID(120) {
				t.Fatalf("rejected record %s was stored", id)
			}
		}
	}
	if stored != 198 {
		t.Fatalf("%d points stored, want 198", stored)
	}
}

func TestWriteFailuresThatWaitForAnOperator(t *testing.T) {
	srv := startInfluxd(t, true)
	srv.query("", "CREATE DATABASE iam")
	srv.query("", `CREATE RETENTION POLICY "week" ON "iam" DURATION 7d REPLICATION 1`)
	tests := []struct {
		name    string
		meta    pumps.Meta
		wantErr string
	}{
		{"wrong password", pumps.Meta{"username": "admin", "password": "wr0ng-s3cret"}, "401 Unauthorized: authorization failed"},
		{"no such database", pumps.Meta{"username": "admin", "password": "admin-pw", "database_name": "nope"}, `404 Not Found: database not found: "nope"`},
		{"no such retention policy", pumps.Meta{"username": "admin", "password": "admin-pw", "retention_policy": "month"}, "retention policy not found"},
		{"right password", pumps.Meta{"address": strings.Replace(srv.URL, "http://", "http://admin:admin-pw@", 1)}, ""},
		{"retention policy", pumps.Meta{"username": "admin", "password": "admin-pw", "retention_policy": "week"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.meta["address"] == nil {
				tt.meta["address"] = srv.URL
			}
			if tt.meta["database_name"] == nil {
				tt.meta["database_name"] = "iam"
			}
			x := newSink(t, tt.meta)
			batch := testutil.Records(t, 0, 10)
			for i := range batch { // inside the week the retention policy keeps
				batch[i].TimeStamp = time.Now().Unix() - int64(i)
			}
			err := testutil.Write(t, x, batch)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write = %v, want an error saying %q", err, tt.wantErr)
			}
			var rej *pumps.RejectedError
			if errors.As(err, &rej) || pumps.IsPermanent(err) {
				t.Fatalf("Write = %v, want a transient error", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the password is in the error: %v", err)
			}
		})
	}
	if n := len(srv.points("iam", `"week".analytics`)); n != 10 {
		t.Fatalf("%d points in retention policy week, want 10", n)
	}
}

func TestServerDown(t *testing.T) {
	srv := startInfluxd(t, false)
	srv.query("", "CREATE DATABASE iam")
	x := newSink(t, pumps.Meta{"address": srv.URL, "database_name": "iam"})
	srv.stop()
	err := testutil.Write(t, x, testutil.Records(t, 0, 5))
	if err == nil || pumps.IsPermanent(err) {
		t.Fatalf("Write with the server down = %v, want a transient error", err)
	}
	y := New()
	if err := y.Configure(pumps.Meta{"address": srv.URL, "database_name": "iam"}); err != nil {
		t.Fatal(err)
	}
	if err := y.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Init with the server down = %v, want a ping error", err)
	}
}

func TestEndToEndThroughTheDaemon(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 5000
	srv := startInfluxd(t, false)
	srv.query("", "CREATE DATABASE iam")
	r := testutil.StartRedis(t)
	for _, raw := range testutil.GoldenRaw(t) {
		if err := r.Client().RPush(context.Background(), analytics.DefaultKey, raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
	d := testutil.WriteConfig(t, r.Port, fmt.Sprintf(
		"  influx:\n    type: influx\n    meta: {address: %q, database_name: iam, tags: [username, effect]}\n", srv.URL), "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained", func() bool {
		left, err := r.Client().LLen(context.Background(), analytics.DefaultKey).Result()
		return err == nil && left == 0
	})
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	pts := srv.points("iam", "analytics")
	var ids []string
	var golden []analytics.Record
	sort.Slice(pts, func(i, j int) bool { return pts[i].time < pts[j].time })
	for _, pt := range pts {
		rec := asRecord(t, pt)
		if id := testutil.IDOf(rec); id != "" {
			ids = append(ids, id)
			if want := testutil.MakeRecord(mustAtoi(t, strings.TrimPrefix(id, "rec-"))); !testutil.SameRecord(rec, want) {
				t.Fatalf("record %s stored as %+v, want %+v", id, rec, want)
			}
		} else {
			golden = append(golden, rec)
		}
	}
	want := testutil.GoldenExpected(t)
	if len(golden) != len(want) {
		t.Fatalf("%d golden points, want %d", len(golden), len(want))
	}
	for i := range want {
		if !testutil.SameRecord(golden[i], want[i]) {
			t.Errorf("golden record %d stored as %+v, want %+v", i, golden[i], want[i])
		}
	}
	acc := testutil.Tally(ids, 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d records missing (first %v), %d duplicated", len(acc.Missing), acc.Missing[:min(5, len(acc.Missing))], acc.Duplicates)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidateNamesTheBadKey(t *testing.T) {
	testutil.NeedsBinary(t)
	tests := []struct {
		meta, want string
	}{
		{"{address: 'http://h:8086'}", "pumps.influx.meta.database_name: must name the database to write to"},
		{"{database_name: iam, tags: [user]}", `pumps.influx.meta.tags: unknown record field "user"`},
		{"{database_name: iam, precision: h}", `pumps.influx.meta.precision: want ns, u, ms or s, got "h"`},
		{"{database_name: iam, adress: x}", `pumps.influx.meta.adress: unknown key (did you mean "address"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.meta, func(t *testing.T) {
			testutil.ValidateRejects(t, "  influx:\n    type: influx\n    meta: "+tt.meta+"\n", tt.want)
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	srv := startInfluxd(b, false)
	srv.query("", "CREATE DATABASE iam")
	x := newSink(b, pumps.Meta{"address": srv.URL, "database_name": "iam", "tags": []any{"username", "effect"}})
	testutil.BenchmarkWrites(b, x, testutil.Records(b, 0, 1000))
}
