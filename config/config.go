package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pumpd/pump/analytics"
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
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout Duration `yaml:"shutdown-timeout"`
	// LeaseTTL is how long the drain lease lives without renewal: a crashed
	// holder is replaced within it.
	LeaseTTL Duration `yaml:"lease-ttl"`
	// InstanceID names this process in the lease and the logs.
	InstanceID string `yaml:"instance-id"`
	// DeadLetterMaxLen caps the dead-letter and parked lists (0: no cap).
	DeadLetterMaxLen int64 `yaml:"dead-letter-max-len"`
	// Server holds the HTTP server's settings beyond iam's two keys.
	Server Server `yaml:"server"`
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
}

// Filters choose which records a pump gets.
type Filters struct {
	Usernames     []string `yaml:"usernames"`
	SkipUsernames []string `yaml:"skip_usernames"`
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
		ShutdownTimeout: Duration(30 * time.Second),
		LeaseTTL:        Duration(10 * time.Second),
		Server:          Server{Middlewares: StringList{"recovery"}},
	}
}

// PumpDefaults are applied to every pumps.<name> before its keys.
func PumpDefaults() Pump {
	return Pump{MaxRetryTime: Duration(30 * time.Second)}
}

// WriteTimeout is how long one write of this pump may take.
func (p Pump) WriteTimeout() time.Duration {
	if p.Timeout > 0 {
		return time.Duration(p.Timeout) * time.Second
	}
	return 30 * time.Second
}

// Duration is a time.Duration written as "30s" or as a number of seconds.
type Duration time.Duration

// UnmarshalYAML accepts both forms.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 30s")
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("want a duration such as 30s, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as Go prints it.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

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
