package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestEveryKeyIsAFlagWithHelp(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	for key := range Keys() {
		f := fs.Lookup(key)
		if f == nil {
			t.Errorf("key %s has no flag --%s", key, key)
			continue
		}
		if flagHelp[key] == "" {
			t.Errorf("key %s has no help line in config/flags.go (flagHelp)", key)
		}
	}
	for key := range flagHelp {
		if !IsKeyFlag(key) {
			t.Errorf("flagHelp has a line for %q, which is no configuration key", key)
		}
	}
	if f := fs.ShorthandLookup("c"); f == nil || f.Name != "config" {
		t.Errorf("-c is not --config")
	}
}

// writeMinimal writes a configuration with one dummy pump.
func writeMinimal(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pump.yaml")
	if err := os.WriteFile(path, []byte("pumps: {d: {type: dummy}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadWithFlags(t *testing.T, path string, args ...string) Config {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	cfg, _, err := Load(Source{Path: path, Flags: fs, LookupEnv: env(nil)})
	if err != nil {
		t.Fatalf("load with %v: %v", args, err)
	}
	return cfg
}

// iam-pump's documented flags (its guide's iam-pump page) all parse and
// land on their keys.
func TestIAMPumpDocumentedFlagsParse(t *testing.T) {
	path := writeMinimal(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		got  func(Config) any
		want any
	}{
		{[]string{"--redis.host", "redis.internal"}, func(c Config) any { return c.Redis.Host }, "redis.internal"},
		{[]string{"--redis.port=6380"}, func(c Config) any { return c.Redis.Port }, 6380},
		{[]string{"--redis.addrs", "a:1,b:2", "--redis.enable-cluster"}, func(c Config) any { return strings.Join(c.Redis.Addrs, " ") + " " + boolText(c.Redis.EnableCluster) }, "a:1 b:2 true"},
		{[]string{"--redis.password", "s3cret"}, func(c Config) any { return c.Redis.Password }, "s3cret"},
		{[]string{"--redis.username=analytics"}, func(c Config) any { return c.Redis.Username }, "analytics"},
		{[]string{"--redis.database", "3"}, func(c Config) any { return c.Redis.Database }, 3},
		{[]string{"--redis.master-name", "mymaster", "--redis.addrs", "s1:26379"}, func(c Config) any { return c.Redis.MasterName }, "mymaster"},
		{[]string{"--redis.optimisation-max-idle", "20"}, func(c Config) any { return c.Redis.OptimisationMaxIdle }, 20},
		{[]string{"--redis.optimisation-max-active", "40"}, func(c Config) any { return c.Redis.OptimisationMaxActive }, 40},
		{[]string{"--redis.timeout", "7"}, func(c Config) any { return c.Redis.Timeout }, 7},
		{[]string{"--redis.use-ssl", "--redis.ssl-insecure-skip-verify"}, func(c Config) any { return boolText(c.Redis.UseSSL) + boolText(c.Redis.SSLInsecureSkipVerify) }, "truetrue"},
		{[]string{"--redis.use-ssl", "--redis.ssl-ca-file", ca}, func(c Config) any { return c.Redis.SSLCAFile }, ca},
		{[]string{"--log.name", "analytics"}, func(c Config) any { return c.Log.Name }, "analytics"},
		{[]string{"--log.development"}, func(c Config) any { return c.Log.Development }, true},
		{[]string{"--log.level", "debug"}, func(c Config) any { return c.Log.Level }, "debug"},
		{[]string{"--log.format", "json"}, func(c Config) any { return c.Log.Format }, "json"},
		{[]string{"--log.enable-color"}, func(c Config) any { return c.Log.EnableColor }, true},
		{[]string{"--log.disable-caller"}, func(c Config) any { return c.Log.DisableCaller }, true},
		{[]string{"--log.disable-stacktrace=false"}, func(c Config) any { return c.Log.DisableStacktrace }, false},
		{[]string{"--log.output-paths", "stdout,/var/log/pump.log"}, func(c Config) any { return strings.Join(c.Log.OutputPaths, " ") }, "stdout /var/log/pump.log"},
		{[]string{"--log.error-output-paths", "/var/log/pump.err"}, func(c Config) any { return strings.Join(c.Log.ErrorOutputPaths, " ") }, "/var/log/pump.err"},
		{[]string{"--purge-delay", "3"}, func(c Config) any { return c.PurgeDelay }, 3},
		{[]string{"--health-check-path", "live"}, func(c Config) any { return c.HealthCheckPath }, "live"},
		{[]string{"--health-check-address", "127.0.0.1:9090"}, func(c Config) any { return c.HealthCheckAddress }, "127.0.0.1:9090"},
		{[]string{"--omit-detailed-recording"}, func(c Config) any { return c.OmitDetailedRecording }, true},
		// Ours.
		{[]string{"--lease-ttl", "20s"}, func(c Config) any { return c.LeaseTTL.D() }, 20 * time.Second},
		{[]string{"--lease-ttl", "15"}, func(c Config) any { return c.LeaseTTL.D() }, 15 * time.Second},
		{[]string{"--dead-letter-max-len", "100000"}, func(c Config) any { return c.DeadLetterMaxLen }, int64(100000)},
		{[]string{"--batch-size", "500"}, func(c Config) any { return c.BatchSize }, 500},
		{[]string{"--read-ahead", "2"}, func(c Config) any { return c.ReadAhead }, 2},
		{[]string{"--shutdown-timeout", "1m"}, func(c Config) any { return c.ShutdownTimeout.D() }, time.Minute},
		{[]string{"--analytics-key", "other-list"}, func(c Config) any { return c.AnalyticsKey }, "other-list"},
		{[]string{"--instance-id", "pump-a"}, func(c Config) any { return c.InstanceID }, "pump-a"},
		{[]string{"--server.middlewares", "recovery,requestid"}, func(c Config) any { return strings.Join(c.Server.Middlewares, " ") }, "recovery requestid"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cfg := loadWithFlags(t, path, c.args...)
			if got := c.got(cfg); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A flag's shown default is the key's default: setting every flag to it
// changes nothing.
func TestFlagDefaultsAreTheKeysDefaults(t *testing.T) {
	path := writeMinimal(t)
	plain := loadWithFlags(t, path)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	var args []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" {
			return
		}
		v := f.Value.String()
		if list, ok := f.Value.(pflag.SliceValue); ok {
			v = strings.Join(list.GetSlice(), ",")
		}
		args = append(args, "--"+f.Name+"="+v)
	})
	if len(args) != len(Keys()) {
		t.Fatalf("%d flags for %d keys", len(args), len(Keys()))
	}
	explicit := loadWithFlags(t, path, args...)
	if !reflect.DeepEqual(plain, explicit) {
		t.Errorf("every flag at its shown default changes the configuration:\n%+v\nvs\n%+v", plain, explicit)
	}
}

func TestBadFlagValuesAreParseErrorsNamingTheFlag(t *testing.T) {
	for _, c := range []struct{ arg, want string }{
		{"--batch-size=abc", `invalid argument "abc" for "--batch-size" flag`},
		{"--shutdown-timeout=forever", `invalid argument "forever" for "--shutdown-timeout" flag: want a duration such as 30s, or a number of seconds`},
		{"--log.development=maybe", `invalid argument "maybe" for "--log.development" flag`},
		{"--dead-letter-max-len=-x", `invalid argument "-x" for "--dead-letter-max-len" flag`},
		{"--redis.hots=h", `unknown flag: --redis.hots`},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		AddFlags(fs)
		err := fs.Parse([]string{c.arg})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.arg, err, c.want)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestAddKeyFlagsDefinesTheNamedKeysAndSections(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddKeyFlags(fs, "redis", "analytics-key")
	var got []string
	fs.VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
	var want []string
	for key := range Keys() {
		if strings.HasPrefix(key, "redis.") || key == "analytics-key" {
			want = append(want, key)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("flags %v, want %v", got, want)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"redis.hots"`) {
			t.Errorf("an unknown key gave %v, want a panic naming it", r)
		}
	}()
	AddKeyFlags(pflag.NewFlagSet("t", pflag.ContinueOnError), "redis.hots")
}
