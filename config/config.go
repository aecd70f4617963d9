package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

// Config is the whole configuration. The yaml names are iam-pump's where iam
// has the key; the rest are ours and all have defaults.
type Config struct {
	PurgeDelay            int             `yaml:"purge-delay"`
	HealthCheckPath       string          `yaml:"health-check-path"`
	HealthCheckAddress    string          `yaml:"health-check-address"`
	OmitDetailedRecording bool            `yaml:"omit-detailed-recording"`
	Redis                 Redis           `yaml:"redis"`
	Pumps                 map[string]Pump `yaml:"pumps"`
	Log                   Log             `yaml:"log"`

	// AnalyticsKey is the Redis list to drain.
	AnalyticsKey string `yaml:"analytics-key"`
	// BatchSize is how many records one LRANGE reads and one Write gets.
	BatchSize int `yaml:"batch-size"`
	// ReadAhead is how many batches may be in flight at once.
	ReadAhead int `yaml:"read-ahead"`
	// ReadAheadBytes bounds the bytes of those batches together: a window
	// of big records stops reading at it, one of small records at
	// ReadAhead batches. It never holds less than one full batch.
	ReadAheadBytes ByteSize `yaml:"read-ahead-bytes"`
	// BatchMaxBytes bounds one batch in bytes as BatchSize does in records:
	// a read stops near it, and a larger record is a batch of its own.
	BatchMaxBytes ByteSize `yaml:"batch-max-bytes"`
	// MemoryLimit is the Go runtime's soft memory limit (0: none);
	// GOMEMLIMIT, when set, wins.
	MemoryLimit ByteSize `yaml:"memory-limit"`
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout Duration `yaml:"shutdown-timeout"`
	// LeaseTTL is how long the drain lease lives without renewal: a crashed
	// holder is replaced within it.
	LeaseTTL Duration `yaml:"lease-ttl"`
	// InstanceID names this process in the lease and the logs.
	InstanceID string `yaml:"instance-id"`
	// DeadLetterMaxLen caps the dead-letter and parked lists (0: no cap).
	DeadLetterMaxLen int64 `yaml:"dead-letter-max-len"`
	// ProgressInterval is how often a drain still running logs a
	// "draining" line (0: never): a long drain is otherwise silent.
	ProgressInterval Duration `yaml:"progress-interval"`
	// Server holds the HTTP server's settings beyond iam's two keys.
	Server Server `yaml:"server"`
	// Sources are the keys to drain (sources.go); none means iam's one list
	// analytics-key (SourceList).
	Sources []Input `yaml:"sources,omitempty"`
}

// Redis is the connection to the Redis holding the analytics list.
type Redis struct {
	Host                  string     `yaml:"host"`
	Port                  int        `yaml:"port"`
	Addrs                 StringList `yaml:"addrs"`
	Username              string     `yaml:"username"`
	Password              string     `yaml:"password"`
	Database              int        `yaml:"database"`
	MasterName            string     `yaml:"master-name"`
	OptimisationMaxIdle   int        `yaml:"optimisation-max-idle"`
	OptimisationMaxActive int        `yaml:"optimisation-max-active"`
	Timeout               int        `yaml:"timeout"` // seconds, as iam
	EnableCluster         bool       `yaml:"enable-cluster"`
	UseSSL                bool       `yaml:"use-ssl"`
	SSLInsecureSkipVerify bool       `yaml:"ssl-insecure-skip-verify"`
	SSLCAFile             string     `yaml:"ssl-ca-file"`
	// WaitReplicas, when above 0, makes each trim wait (Redis's WAIT) until
	// that many replicas acknowledged it or WaitTimeout passed, so that a
	// failover does not undo trims and deliver their batches again.
	WaitReplicas int      `yaml:"wait-replicas"`
	WaitTimeout  Duration `yaml:"wait-timeout"`
}

// Pump is one configured sink, pumps.<name>.
type Pump struct {
	Type                  string         `yaml:"type"`
	Meta                  map[string]any `yaml:"meta"`
	Filters               Filters        `yaml:"filters"`
	Timeout               int            `yaml:"timeout"` // seconds one write may take, as iam; 0: the default
	OmitDetailedRecording bool           `yaml:"omit-detailed-recording"`
	// MaxRetryTime bounds the retries of one batch before the pump's share
	// of it is parked.
	MaxRetryTime Duration `yaml:"max-retry-time"`
	// Workers is how many of this pump's batches may be written at once
	// (default 1): more hide a database's or broker's round trips and
	// commits, for a sink whose batches may land in any order
	// (pumps.Concurrent).
	Workers int `yaml:"workers"`
}

// Filters choose which records a pump gets.
type Filters struct {
	Usernames     []string `yaml:"usernames"`
	SkipUsernames []string `yaml:"skip_usernames"`
	// Expr is a boolean expression over the record's fields (package
	// filter); a record must pass it and the username lists.
	Expr string `yaml:"expr"`
}

// Log configures the zap logger, with iam's keys.
type Log struct {
	Name              string     `yaml:"name"`
	Development       bool       `yaml:"development"`
	Level             string     `yaml:"level"`
	Format            string     `yaml:"format"`
	EnableColor       bool       `yaml:"enable-color"`
	DisableCaller     bool       `yaml:"disable-caller"`
	DisableStacktrace bool       `yaml:"disable-stacktrace"`
	OutputPaths       StringList `yaml:"output-paths"`
	ErrorOutputPaths  StringList `yaml:"error-output-paths"`
}

// Server configures the HTTP server.
type Server struct {
	Middlewares StringList `yaml:"middlewares"`
	// CORS configures the cors middleware.
	CORS CORS `yaml:"cors"`
	// RequestTimeout bounds one request when the timeout middleware is on.
	RequestTimeout Duration `yaml:"request-timeout"`
	// AdminAuth protects /metrics, /status and the admin routes; the
	// probes stay open.
	AdminAuth AdminAuth `yaml:"admin-auth"`
	// AdminRoutes serves POST /-/reload. Off by default: it changes what
	// the daemon does, so it is served only on request, and off a loopback
	// address only behind admin-auth.
	AdminRoutes bool `yaml:"admin-routes"`
	// Pprof serves Go's profiles on /debug/pprof/, under the same rule.
	Pprof bool `yaml:"pprof"`
}

// CORS lists what cross-origin browsers may do, server.cors.
type CORS struct {
	AllowedOrigins   StringList `yaml:"allowed-origins"` // "*" or scheme://host[:port]
	AllowedMethods   StringList `yaml:"allowed-methods"`
	AllowedHeaders   StringList `yaml:"allowed-headers"`
	ExposedHeaders   StringList `yaml:"exposed-headers"`
	AllowCredentials bool       `yaml:"allow-credentials"`
	MaxAge           Duration   `yaml:"max-age"` // how long a browser may cache a preflight
}

// AdminAuth is server.admin-auth: who may use the admin routes. Secrets
// come from an environment variable or a file, never from the YAML itself.
type AdminAuth struct {
	Type         string `yaml:"type"` // none, bearer or basic
	TokenEnv     string `yaml:"token-env"`
	TokenFile    string `yaml:"token-file"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password-env"`
	PasswordFile string `yaml:"password-file"`
}

func (s Server) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("server."+key+": "+format, args...))
	}
	if s.RequestTimeout.D() <= 0 {
		bad("request-timeout", "must be positive, got %v", s.RequestTimeout.D())
	}
	c := s.CORS
	if len(c.AllowedOrigins) == 0 && slices.Contains(s.Middlewares, "cors") {
		bad("cors.allowed-origins", `the cors middleware needs at least one origin, e.g. [https://grafana.example.com] or ["*"]`)
	}
	for i, o := range c.AllowedOrigins {
		if o == "*" {
			if c.AllowCredentials {
				bad("cors.allow-credentials", `browsers refuse credentials with the origin "*": list the origins`)
			}
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			bad(fmt.Sprintf("cors.allowed-origins[%d]", i), `want "*" or scheme://host[:port], got %q`, o)
		}
	}
	for i, m := range c.AllowedMethods {
		if m == "" || strings.ContainsAny(m, " \t,:/") {
			bad(fmt.Sprintf("cors.allowed-methods[%d]", i), "want an HTTP method such as GET, got %q", m)
		}
	}
	if c.MaxAge.D() < 0 {
		bad("cors.max-age", "must not be negative, got %v", c.MaxAge.D())
	}
	return append(errs, s.AdminAuth.validate()...)
}

// validateExposure refuses admin routes that anyone on the network could
// use: on an address other than loopback they need admin-auth.
func (s Server) validateExposure(addr string) []error {
	if s.AdminAuth.Type != "" && s.AdminAuth.Type != "none" || isLoopback(addr) {
		return nil
	}
	var errs []error
	for _, r := range []struct {
		key, routes string
		on          bool
	}{
		{"admin-routes", "POST /-/reload", s.AdminRoutes},
		{"pprof", "/debug/pprof/", s.Pprof},
	} {
		if r.on {
			errs = append(errs, fmt.Errorf("server.%s: would serve %s to the network on %s without authentication: set server.admin-auth (bearer or basic), or listen on a loopback address such as 127.0.0.1:7070",
				r.key, r.routes, addr))
		}
	}
	return errs
}

// isLoopback reports whether host:port listens on this host only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a AdminAuth) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("server.admin-auth."+key+": "+format, args...))
	}
	// secret checks that exactly one source is named and that it holds a
	// value; the server reads it again at start.
	secret := func(what, envKey, env, fileKey, file string) {
		switch {
		case env == "" && file == "":
			bad(envKey, "type %s needs %s or %s", a.Type, envKey, fileKey)
		case env != "" && file != "":
			bad(fileKey, "set %s or %s, not both", envKey, fileKey)
		case env != "":
			if v, ok := os.LookupEnv(env); !ok {
				bad(envKey, "environment variable %s is not set", env)
			} else if strings.TrimSpace(v) == "" {
				bad(envKey, "environment variable %s is empty", env)
			}
		default:
			if b, err := os.ReadFile(file); err != nil {
				bad(fileKey, "%v", err)
			} else if strings.TrimSpace(string(b)) == "" {
				bad(fileKey, "%s holds no %s", file, what)
			}
		}
	}
	unused := func(key, value string) {
		if value != "" {
			bad(key, "not used by type %s", a.Type)
		}
	}
	switch a.Type {
	case "", "none":
		for _, k := range [][2]string{{"token-env", a.TokenEnv}, {"token-file", a.TokenFile}, {"username", a.Username},
			{"password-env", a.PasswordEnv}, {"password-file", a.PasswordFile}} {
			if k[1] != "" {
				bad("type", "is none (the default) but %s is set: want bearer or basic", k[0])
				break
			}
		}
	case "bearer":
		secret("token", "token-env", a.TokenEnv, "token-file", a.TokenFile)
		unused("username", a.Username)
		unused("password-env", a.PasswordEnv)
		unused("password-file", a.PasswordFile)
	case "basic":
		if a.Username == "" || strings.Contains(a.Username, ":") {
			bad("username", "type basic needs a username without a colon, got %q", a.Username)
		}
		secret("password", "password-env", a.PasswordEnv, "password-file", a.PasswordFile)
		unused("token-env", a.TokenEnv)
		unused("token-file", a.TokenFile)
	default:
		bad("type", "want none, bearer or basic, got %q", a.Type)
	}
	return errs
}

// Default returns the configuration an empty file means. Values are set
// before decoding so defaults live in one place.
func Default() Config {
	return Config{
		PurgeDelay:         10,
		HealthCheckPath:    "healthz",
		HealthCheckAddress: "0.0.0.0:7070",
		Redis: Redis{
			Host:                  "127.0.0.1",
			Port:                  6379,
			OptimisationMaxIdle:   10,
			OptimisationMaxActive: 50,
			Timeout:               5,
			WaitTimeout:           Duration(250 * time.Millisecond),
		},
		Log: Log{
			Name:   "pump",
			Level:  "info",
			Format: "console",
			// Stack traces belong to bugs; the pump's errors are states
			// (Redis down, a sink failing) that the message explains.
			DisableStacktrace: true,
			OutputPaths:       StringList{"stdout"},
			ErrorOutputPaths:  StringList{"stderr"},
		},
		AnalyticsKey:    analytics.DefaultKey,
		BatchSize:       1000,
		ReadAhead:       4,
		ReadAheadBytes:  32 << 20,
		BatchMaxBytes:   8 << 20,
		MemoryLimit:     96 << 20,
		ShutdownTimeout: Duration(30 * time.Second),
		LeaseTTL:        Duration(10 * time.Second),
		Server: Server{
			Middlewares:    StringList{"recovery"},
			RequestTimeout: Duration(10 * time.Second),
			CORS: CORS{
				AllowedMethods: StringList{"GET", "HEAD", "POST"},
				AllowedHeaders: StringList{"Authorization", "Content-Type", "X-Request-Id"},
				ExposedHeaders: StringList{"X-Request-Id"},
				MaxAge:         Duration(10 * time.Minute),
			},
			AdminAuth:   AdminAuth{Type: "none"},
			AdminRoutes: false,
			Pprof:       false,
		},
		ProgressInterval: Duration(10 * time.Second),
	}
}

// PumpDefaults are applied to every pumps.<name> before its keys.
func PumpDefaults() Pump {
	return Pump{MaxRetryTime: Duration(30 * time.Second), Workers: 1}
}

// MaxWorkers bounds pumps.<name>.workers: each one holds a batch in memory
// and a connection to the sink's server.
const MaxWorkers = 64

// Writers is how many writes of this pump may run at once: Workers, at
// least 1.
func (p Pump) Writers() int { return max(p.Workers, 1) }

// WriteTimeout is how long one write of this pump may take.
func (p Pump) WriteTimeout() time.Duration {
	if p.Timeout > 0 {
		return time.Duration(p.Timeout) * time.Second
	}
	return 30 * time.Second
}

// Duration is a time.Duration written as "30s" or as a number of seconds;
// the sinks' meta uses the same type.
type Duration = pumps.Duration

// StringList is a list written as a YAML sequence or, as iam allows, one
// comma-separated string.
type StringList []string

// UnmarshalYAML accepts both forms.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = nil
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*l = append(*l, s)
			}
		}
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return fmt.Errorf("want a list of strings")
		}
		*l = s
		return nil
	}
	return fmt.Errorf("want a list of strings")
}
