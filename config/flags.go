package config

import (
	"strings"

	"github.com/spf13/pflag"
)

// AddFlags defines the command-line flags for the most used keys. A flag is
// named after its key and wins over the file and the environment when set.
func AddFlags(fs *pflag.FlagSet) *string {
	d := Default()
	path := fs.StringP("config", "c", "", "configuration file (YAML); default: the first of "+strings.Join(DefaultPaths, ", "))
	fs.Int("purge-delay", d.PurgeDelay, "seconds between drain ticks")
	fs.String("health-check-path", d.HealthCheckPath, "path of the liveness endpoint")
	fs.String("health-check-address", d.HealthCheckAddress, "listen address of the HTTP server")
	fs.Bool("omit-detailed-recording", false, "blank policies and deciders for every pump")
	fs.String("analytics-key", d.AnalyticsKey, "Redis list to drain")
	fs.Int("batch-size", d.BatchSize, "records per batch")
	fs.Int("read-ahead", d.ReadAhead, "batches in flight at once")
	fs.String("shutdown-timeout", d.ShutdownTimeout.D().String(), "how long a graceful stop may take")
	fs.String("instance-id", "", "name of this instance in the lease and logs (default: host name and pid)")
	fs.String("redis.host", d.Redis.Host, "Redis host")
	fs.Int("redis.port", d.Redis.Port, "Redis port")
	fs.StringSlice("redis.addrs", nil, "Redis cluster or sentinel addresses (host:port,...)")
	fs.Int("redis.database", 0, "Redis database number")
	fs.String("log.level", d.Log.Level, "log level: debug, info, warn, error")
	fs.String("log.format", d.Log.Format, "log format: console or json")
	return path
}
