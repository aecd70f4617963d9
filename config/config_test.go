package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	_ "github.com/pumpd/pump/pumps/csv"
	_ "github.com/pumpd/pump/pumps/dummy"
	"github.com/pumpd/pump/server"
)

func init() { MiddlewareNames = server.MiddlewareNames }

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestIAMPumpConfigLoadsUnchanged(t *testing.T) {
	cfg, _, err := Load(Source{Path: "testdata/iam-pump.yaml", LookupEnv: env(map[string]string{
		"REDIS_HOST": "redis.internal", "REDIS_PORT": "6380", "REDIS_PASSWORD": "s3cret$x",
	})})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Redis.Host != "redis.internal" || cfg.Redis.Port != 6380 || cfg.Redis.Password != "s3cret$x" || cfg.Redis.Database != 0 {
		t.Errorf("redis = %+v", cfg.Redis)
	}
	if cfg.PurgeDelay != 10 || cfg.HealthCheckPath != "healthz" || cfg.HealthCheckAddress != "0.0.0.0:7070" || !cfg.OmitDetailedRecording {
		t.Errorf("top-level keys wrong: %+v", cfg)
	}
	if got := cfg.Pumps["csv"].Meta["csv_dir"]; got != "./analytics-data" {
		t.Errorf("csv meta = %v", got)
	}
	d := cfg.Pumps["dummy"]
	if d.Timeout != 5 || !d.OmitDetailedRecording || len(d.Filters.SkipUsernames) != 1 || d.MaxRetryTime.D() != 30*time.Second {
		t.Errorf("dummy pump = %+v", d)
	}
	if len(cfg.Log.OutputPaths) != 1 || cfg.Log.OutputPaths[0] != "stdout" || !cfg.Log.Development {
		t.Errorf("log = %+v", cfg.Log)
	}
	// Our own keys take their defaults.
	if cfg.BatchSize != 1000 || cfg.ShutdownTimeout.D() != 30*time.Second || cfg.AnalyticsKey != "analytics-iam-system-analytics" {
		t.Errorf("defaults not applied: batch %d, shutdown %v, key %q", cfg.BatchSize, cfg.ShutdownTimeout.D(), cfg.AnalyticsKey)
	}
}

func TestPrecedenceIsFlagsThenEnvThenFileThenDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pump.yaml")
	os.WriteFile(path, []byte("purge-delay: 3\nredis: {host: file-host, port: 1000}\nlog: {level: warn}\npumps: {d: {type: dummy}}\n"), 0o600)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--redis.port", "3000", "--redis.addrs", "a:1,b:2"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(Source{Path: path, Flags: fs, LookupEnv: env(map[string]string{
		"IAM_PUMP_REDIS_HOST": "env-host", "IAM_PUMP_REDIS_PORT": "2000", "IAM_PUMP_BATCH_SIZE": "250",
		"IAM_PUMP_SHUTDOWN_TIMEOUT": "45s", "IAM_PUMP_LOG_OUTPUT_PATHS": "stdout,/tmp/x.log",
	})})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"purge-delay (file)", cfg.PurgeDelay, 3},
		{"redis.host (env over file)", cfg.Redis.Host, "env-host"},
		{"redis.port (flag over env)", cfg.Redis.Port, 3000},
		{"redis.addrs (flag list)", strings.Join(cfg.Redis.Addrs, " "), "a:1 b:2"},
		{"batch-size (env)", cfg.BatchSize, 250},
		{"shutdown-timeout (env)", cfg.ShutdownTimeout.D(), 45 * time.Second},
		{"log.output-paths (env list)", strings.Join(cfg.Log.OutputPaths, " "), "stdout /tmp/x.log"},
		{"log.level (file)", cfg.Log.Level, "warn"},
		{"health-check-path (default)", cfg.HealthCheckPath, "healthz"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

func TestBadConfigurationsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"unknown-top-key":          `purge-dealy: unknown key (did you mean "purge-delay"?)`,
		"unknown-redis-key":        `redis.hots: unknown key (did you mean "host"?)`,
		"wrong-type":               `purge-delay: want a whole number, got "soon"`,
		"negative-delay":           `purge-delay: must be 0 or more seconds, got -1`,
		"no-pumps":                 `pumps: no pumps configured`,
		"unknown-pump-type":        `pumps.archive.type: unknown pump type "cvs" (did you mean "csv"?)`,
		"bad-health-address":       `health-check-address: want host:port, got "localhost"`,
		"bad-redis-port":           `redis.port: must be between 1 and 65535, got 70000`,
		"bad-cluster-addr":         `redis.addrs[1]: want host:port, got "10.0.0.2"`,
		"csv-without-dir":          `pumps.csv.meta.csv_dir: must name the directory for the CSV files`,
		"csv-meta-typo":            `pumps.csv.meta.csv_dri: unknown key (did you mean "csv_dir"?)`,
		"pump-key-typo":            `pumps.csv.filter: unknown key (did you mean "filters"?)`,
		"bad-log-level":            `log.level: want debug, info, warn or error, got "loud"`,
		"not-yaml":                 `not valid YAML`,
		"top-level-list":           `the top level must be a mapping of keys`,
		"bad-duration":             `shutdown-timeout: want a duration such as 30s, or a number of seconds, got "forever"`,
		"unknown-middleware":       `server.middlewares[1]: unknown middleware "loger" (did you mean "logger"?)`,
		"zero-batch":               `batch-size: must be between 1 and 100000, got 0`,
		"wait-replicas-no-timeout": `redis.wait-timeout: must be positive with redis.wait-replicas, got 0s`,
		"filter-expr-unknown-name": `pumps.csv.filters.expr: line 1, column 21: unknown name usr; known: timestamp, username, effect, conclusion, request, policies, deciders, expireAt`,
		"filter-expr-syntax":       `pumps.alerts.filters.expr: line 2, column 21: unexpected token Operator("==")`,
		"admin-routes-on-the-network": `server.admin-routes: would serve POST /-/reload to the network on 0.0.0.0:7070 without authentication: ` +
			`set server.admin-auth (bearer or basic), or listen on a loopback address such as 127.0.0.1:7070`,
		"pprof-on-the-network": `server.pprof: would serve /debug/pprof/ to the network on 10.1.2.3:7070 without authentication`,
	}
	files, _ := filepath.Glob("testdata/*.bad.yml")
	if len(files) != len(cases) {
		t.Errorf("%d bad files in testdata, %d expectations", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := Load(Source{Path: "testdata/" + name + ".bad.yml", LookupEnv: env(nil)})
			if err == nil {
				t.Fatal("Load accepted a bad configuration")
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("error %T is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, want)
			}
		})
	}
}

func TestFilterExpressionLoads(t *testing.T) {
	cfg, err := Parse(`pumps:
  alerts:
    type: dummy
    filters:
      skip_usernames: [admin]
      expr: effect == "deny" && request.action in ["delete", "update"]
`)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	f := cfg.Pumps["alerts"].Filters
	if f.Expr != `effect == "deny" && request.action in ["delete", "update"]` || len(f.SkipUsernames) != 1 {
		t.Errorf("filters = %+v", f)
	}
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"SET": "v", "EMPTY": ""})
	for in, want := range map[string]string{
		"${SET}":            "v",
		"${UNSET}":          "",
		"${UNSET:-dflt}":    "dflt",
		"${EMPTY:-dflt}":    "dflt",
		"${SET:-dflt}":      "v",
		"pa$$word $HOME $x": "pa$$word $HOME $x",
		"a${SET}b${SET}c":   "avbvc",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactedMapHidesSecrets(t *testing.T) {
	cfg, err := Parse(`
redis: {host: h, password: hunter2}
pumps:
  m:
    type: dummy
`)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pumps["m"] = Pump{Type: "dummy", Meta: map[string]any{"mongo_url": "mongodb://u:pw123@db:27017/x", "api_key": "k", "plain": "ok",
		"dsn": "host=db user=u password=pgsecret dbname=x", "token-env": "ADMIN_TOKEN",
		// What key names alone missed: header values, query values and
		// the passwords after the first of a URL list.
		"headers":           map[string]any{"Authorization": "Bearer hdrtoken", "X-Api-Key": "hdrkey"},
		"url":               "https://collector.example.com/in?token=qtoken&apikey=qkey&sig=qsig",
		"elasticsearch_url": "http://a:first@es1:9200,http://b:second@es2:9200"}}
	m := cfg.RedactedMap()
	text := strings.Join(flatten(m), " ")
	for _, secret := range []string{"hunter2", "pw123", "api_key=k ", "pgsecret", "hdrtoken", "hdrkey", "qtoken", "qkey", "qsig", "first", "second"} {
		if strings.Contains(text+" ", secret) {
			t.Errorf("redacted config still shows %q: %s", secret, text)
		}
	}
	for _, kept := range []string{"mongodb://u:<redacted>@db:27017/x", "plain=ok", "host=h", "password=<redacted> dbname=x", "token-env=ADMIN_TOKEN"} {
		if !strings.Contains(text, kept) {
			t.Errorf("redacted config lost %q: %s", kept, text)
		}
	}
}

func flatten(m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(sub)...)
			continue
		}
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	return out
}

// FuzzLoad feeds arbitrary files to the loader: it must return a
// configuration or an error, never panic.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "pump.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, _ = Load(Source{Path: path, LookupEnv: env(nil)})
	})
}

func TestAdminRoutesAreOffByDefaultAndNeedLoopbackOrAuth(t *testing.T) {
	if d := Default().Server; d.AdminRoutes || d.Pprof {
		t.Fatalf("admin routes on by default: %+v", d)
	}
	t.Setenv("PUMP_TEST_ADMIN_TOKEN", "a-token")
	for _, tt := range []struct {
		name, addr, server, want string // want: "" for accepted
	}{
		{"off on every interface", "0.0.0.0:7070", "{}", ""},
		{"on loopback without auth", "127.0.0.1:7070", "{admin-routes: true, pprof: true}", ""},
		{"on localhost without auth", "localhost:0", "{admin-routes: true}", ""},
		{"on IPv6 loopback without auth", "[::1]:7070", "{pprof: true}", ""},
		{"on every interface with bearer", "0.0.0.0:7070", "{admin-routes: true, pprof: true, admin-auth: {type: bearer, token-env: PUMP_TEST_ADMIN_TOKEN}}", ""},
		{"on every interface without auth", ":7070", "{admin-routes: true}", "server.admin-routes: would serve POST /-/reload to the network on :7070"},
		{"on a host name without auth", "pump.internal:7070", "{pprof: true}", "server.pprof: would serve /debug/pprof/ to the network on pump.internal:7070"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(fmt.Sprintf("health-check-address: %q\nserver: %s\npumps: {d: {type: dummy}}\n", tt.addr, tt.server))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
