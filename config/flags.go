package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/strict"
)

// Every key of the configuration (Keys) is also a flag named after it, as in
// iam-pump (--redis.host, --log.level, ...). The key gives the flag its name,
// type and default; the one thing a flag adds is this line of help.
// TestEveryKeyIsAFlagWithHelp fails for a key without one.
var flagHelp = map[string]string{
	"purge-delay":             "seconds between drain ticks (0: drain continuously)",
	"health-check-path":       "path of the liveness endpoint",
	"health-check-address":    "listen address of the HTTP server (probes, /readyz, /metrics)",
	"omit-detailed-recording": "blank policies and deciders for every pump",
	"analytics-key":           "Redis list to drain",
	"batch-size":              "records per read and per write",
	"read-ahead":              "batches in flight at once (read, not yet written by every pump)",
	"read-ahead-bytes":        "bytes of the batches in flight at once, at most (32MiB, ...; never less than batch-max-bytes)",
	"batch-max-bytes":         "bytes per read and per write at most (8MiB, 512KiB, ...); a larger record goes alone",
	"memory-limit":            "the Go runtime's soft memory limit (96MiB, ...; 0: none); GOMEMLIMIT wins",
	"shutdown-timeout":        "bound of the graceful stop",
	"lease-ttl":               "how long the drain lease lives without renewal",
	"instance-id":             "name of this instance in the lease and logs (default: host name and pid)",
	"dead-letter-max-len":     "cap of the dead-letter and parked lists (0: no cap)",
	"progress-interval":       `how often a long drain logs a "draining" line (0: off)`,

	"redis.host":                     "Redis host",
	"redis.port":                     "Redis port",
	"redis.addrs":                    "Redis Cluster nodes or sentinels (host:port,...)",
	"redis.username":                 "Redis ACL user",
	"redis.password":                 "Redis password (a flag shows in ps: prefer IAM_PUMP_REDIS_PASSWORD)",
	"redis.database":                 "Redis database number",
	"redis.master-name":              "Sentinel: the master's name (sentinels in redis.addrs)",
	"redis.optimisation-max-idle":    "idle Redis connections kept",
	"redis.optimisation-max-active":  "Redis connection pool size",
	"redis.timeout":                  "seconds for Redis dial, read and write",
	"redis.enable-cluster":           "Redis Cluster over redis.addrs",
	"redis.use-ssl":                  "connect to Redis over TLS",
	"redis.ssl-insecure-skip-verify": "do not check Redis's TLS certificate",
	"redis.ssl-ca-file":              "CA certificates (PEM) that sign Redis's TLS certificate",
	"redis.wait-replicas":            "replicas each trim waits for (Redis WAIT), so a failover doubles less (0: off)",
	"redis.wait-timeout":             "how long a trim waits for redis.wait-replicas",

	"log.name":               "logger name",
	"log.development":        "development logger (DPanic panics, stack traces from warn)",
	"log.level":              "log level: debug, info, warn or error",
	"log.format":             "log format: console or json",
	"log.enable-color":       "coloured levels in the console format",
	"log.disable-caller":     "leave the caller out of log lines",
	"log.disable-stacktrace": "leave stack traces out of error lines",
	"log.output-paths":       "where log lines go: stdout, stderr or file paths (stderr when a stdout pump writes records)",
	"log.error-output-paths": "where the logger's own errors go",

	"server.middlewares":              "HTTP middlewares by name, outermost first (pump plugins)",
	"server.admin-routes":             "serve POST /-/reload (off a loopback address only with admin-auth)",
	"server.pprof":                    "serve Go's profiles on /debug/pprof/ (off a loopback address only with admin-auth)",
	"server.request-timeout":          "bound of one HTTP request, with the timeout middleware",
	"server.cors.allowed-origins":     `origins browsers may read from: "*" or scheme://host[:port]`,
	"server.cors.allowed-methods":     "methods cross-origin browsers may use",
	"server.cors.allowed-headers":     "request headers cross-origin browsers may send",
	"server.cors.exposed-headers":     "answer headers cross-origin browsers may read",
	"server.cors.allow-credentials":   "let cross-origin browsers send credentials",
	"server.cors.max-age":             "how long a browser may cache a preflight",
	"server.admin-auth.type":          "protection of /metrics and the admin routes: none, bearer or basic",
	"server.admin-auth.token-env":     "environment variable holding the bearer token",
	"server.admin-auth.token-file":    "file holding the bearer token",
	"server.admin-auth.username":      "basic authentication user",
	"server.admin-auth.password-env":  "environment variable holding the basic password",
	"server.admin-auth.password-file": "file holding the basic password",
}

// AddFlags defines -c/--config and one flag per configuration key; it
// returns where the file's path will be. A flag the user sets wins over the
// file and the environment (Source.Flags).
func AddFlags(fs *pflag.FlagSet) *string {
	path := AddConfigFlag(fs)
	AddKeyFlags(fs)
	return path
}

// AddConfigFlag defines -c/--config alone, for commands that take no
// overrides.
func AddConfigFlag(fs *pflag.FlagSet) *string {
	return fs.StringP("config", "c", "", "configuration file (YAML); default: the first of "+strings.Join(DefaultPaths, ", "))
}

// AddKeyFlags defines the flags of the keys named or below the sections
// named ("redis" means every redis.* key); with no names, of every key.
// A name that matches no key is a programming error and panics.
func AddKeyFlags(fs *pflag.FlagSet, names ...string) {
	keys := Keys()
	defaults := reflect.ValueOf(Default())
	matched := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		chosen := len(names) == 0
		for _, n := range names {
			if key == n || strings.HasPrefix(key, n+".") {
				chosen, matched[n] = true, true
			}
		}
		if chosen {
			addKeyFlag(fs, key, keys[key], defaultOf(defaults, key))
		}
	}
	for _, n := range names {
		if !matched[n] {
			panic(fmt.Sprintf("config.AddKeyFlags: %q is no configuration key or section", n))
		}
	}
}

// defaultOf finds key's value in the default configuration.
func defaultOf(v reflect.Value, key string) reflect.Value {
	for _, part := range strings.Split(key, ".") {
		v = v.FieldByIndex(strict.Fields(v.Type())[part])
	}
	return v
}

var (
	durationType = reflect.TypeOf(Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
)

func addKeyFlag(fs *pflag.FlagSet, key string, t reflect.Type, def reflect.Value) {
	help := flagHelp[key]
	if help == "" {
		help = "sets " + key // TestEveryKeyIsAFlagWithHelp keeps this from shipping
	}
	switch {
	case t == durationType:
		d := Duration(def.Int())
		fs.Var((*durationFlag)(&d), key, help)
	case t == byteSizeType:
		b := ByteSize(def.Int())
		fs.Var((*byteSizeFlag)(&b), key, help)
	case t.Kind() == reflect.String:
		fs.String(key, def.String(), help)
	case t.Kind() == reflect.Bool:
		fs.Bool(key, def.Bool(), help)
	case t.Kind() == reflect.Int:
		fs.Int(key, int(def.Int()), help)
	case t.Kind() == reflect.Int64:
		fs.Int64(key, def.Int(), help)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		fs.StringSlice(key, def.Convert(reflect.TypeOf([]string(nil))).Interface().([]string), help)
	default:
		panic(fmt.Sprintf("config: key %s has type %v, which no flag type fits", key, t))
	}
}

// durationFlag reads a duration as the file does: 30s, 1m, or seconds.
type durationFlag Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Type() string   { return "duration" }

func (d *durationFlag) Set(s string) error {
	var v Duration
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

// IsKeyFlag reports whether the flag is one of a configuration key (and so
// also set by IAM_PUMP_<KEY>), not one of a command's own.
func IsKeyFlag(name string) bool {
	_, ok := Keys()[name]
	return ok
}

// KeyHelp is the line of help of a configuration key ("" for none); `pump
// schema` uses it as the key's description.
func KeyHelp(key string) string { return flagHelp[key] }
