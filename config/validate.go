package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/internal/strict"
	"github.com/pumpd/pump/pumps"
)

// MiddlewareNames, when set by the HTTP server package, lists the
// middlewares that exist, so a config naming another one is refused.
var MiddlewareNames func() []string

var pumpName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate checks every value and each pump's meta (through its sink's
// Configure, which does no I/O). It returns all problems, one a line.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.PurgeDelay < 0 {
		bad("purge-delay", "must be 0 or more seconds, got %d", c.PurgeDelay)
	}
	if strings.ContainsAny(c.HealthCheckPath, " ?#") || strings.Trim(c.HealthCheckPath, "/") == "" {
		bad("health-check-path", "want a URL path such as healthz, got %q", c.HealthCheckPath)
	}
	if err := checkHostPort(c.HealthCheckAddress); err != nil {
		bad("health-check-address", "%v", err)
	}
	if c.AnalyticsKey == "" {
		bad("analytics-key", "must not be empty")
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		bad("batch-size", "must be between 1 and 100000, got %d", c.BatchSize)
	}
	if c.ReadAhead < 1 || c.ReadAhead > 64 {
		bad("read-ahead", "must be between 1 and 64 batches, got %d", c.ReadAhead)
	}
	if c.BatchMaxBytes < 1<<10 || c.BatchMaxBytes > 1<<30 {
		bad("batch-max-bytes", "must be between 1KiB and 1GiB, got %v", c.BatchMaxBytes)
	}
	if c.ReadAheadBytes < 1<<10 {
		bad("read-ahead-bytes", "must be at least 1KiB, got %v", c.ReadAheadBytes)
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < 16<<20 {
		bad("memory-limit", "must be 0 (no limit) or at least 16MiB, got %v", c.MemoryLimit)
	}
	if c.ShutdownTimeout.D() <= 0 {
		bad("shutdown-timeout", "must be positive, got %v", c.ShutdownTimeout.D())
	}
	if c.LeaseTTL.D() < time.Second {
		bad("lease-ttl", "must be at least 1s, got %v", c.LeaseTTL.D())
	}
	if c.ProgressInterval.D() < 0 {
		bad("progress-interval", "must be 0 (off) or more, got %v", c.ProgressInterval.D())
	}
	if c.DeadLetterMaxLen < 0 {
		bad("dead-letter-max-len", "must be 0 (no cap) or more, got %d", c.DeadLetterMaxLen)
	}
	errs = append(errs, c.Redis.validate()...)
	errs = append(errs, c.Log.validate()...)
	if MiddlewareNames != nil {
		known := MiddlewareNames()
		for i, m := range c.Server.Middlewares {
			if !contains(known, m) {
				errs = append(errs, unknownName(fmt.Sprintf("server.middlewares[%d]", i), "middleware", m, known))
			}
		}
	}
	errs = append(errs, c.Server.validate()...)
	errs = append(errs, c.Server.validateExposure(c.HealthCheckAddress)...)
	if len(c.Pumps) == 0 {
		bad("pumps", "no pumps configured: add at least one, e.g. pumps: {csv: {type: csv, meta: {csv_dir: ./analytics-data}}}")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Pumps)) {
		errs = append(errs, c.Pumps[name].validate(name)...)
	}
	errs = append(errs, c.validateSources()...)
	return errors.Join(errs...)
}

func (r Redis) validate() []error {
	var errs []error
	if len(r.Addrs) == 0 {
		if r.Host == "" {
			errs = append(errs, errors.New("redis.host: must not be empty"))
		}
		if r.Port < 1 || r.Port > 65535 {
			errs = append(errs, fmt.Errorf("redis.port: must be between 1 and 65535, got %d", r.Port))
		}
	}
	for i, a := range r.Addrs {
		if err := checkHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("redis.addrs[%d]: %w", i, err))
		}
	}
	if r.EnableCluster && r.MasterName != "" {
		errs = append(errs, errors.New("redis.master-name: sentinel and enable-cluster exclude each other"))
	}
	if r.Database < 0 || r.Database > 15 && !r.EnableCluster {
		errs = append(errs, fmt.Errorf("redis.database: must be between 0 and 15, got %d", r.Database))
	}
	if r.EnableCluster && r.Database != 0 {
		errs = append(errs, errors.New("redis.database: Redis Cluster has only database 0"))
	}
	if r.Timeout < 0 {
		errs = append(errs, fmt.Errorf("redis.timeout: must be 0 or more seconds, got %d", r.Timeout))
	}
	if r.OptimisationMaxActive < 0 {
		errs = append(errs, fmt.Errorf("redis.optimisation-max-active: must be 0 or more, got %d", r.OptimisationMaxActive))
	}
	if r.OptimisationMaxIdle < 0 {
		errs = append(errs, fmt.Errorf("redis.optimisation-max-idle: must be 0 or more, got %d", r.OptimisationMaxIdle))
	}
	if r.WaitReplicas < 0 {
		errs = append(errs, fmt.Errorf("redis.wait-replicas: must be 0 (off) or more, got %d", r.WaitReplicas))
	}
	if r.WaitReplicas > 0 && r.WaitTimeout.D() <= 0 {
		errs = append(errs, fmt.Errorf("redis.wait-timeout: must be positive with redis.wait-replicas, got %v", r.WaitTimeout.D()))
	}
	if r.SSLCAFile != "" {
		if _, err := os.Stat(r.SSLCAFile); err != nil {
			errs = append(errs, fmt.Errorf("redis.ssl-ca-file: %w", err))
		}
	}
	return errs
}

func (l Log) validate() []error {
	var errs []error
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error", "dpanic", "panic", "fatal":
	default:
		errs = append(errs, fmt.Errorf("log.level: want debug, info, warn or error, got %q", l.Level))
	}
	switch l.Format {
	case "console", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: want console or json, got %q", l.Format))
	}
	return errs
}

func (p Pump) validate(name string) []error {
	key := "pumps." + name
	var errs []error
	if !pumpName.MatchString(name) {
		errs = append(errs, fmt.Errorf("%s: a pump name may hold only letters, digits, _ and -", key))
	}
	if p.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout: must be 0 or more seconds, got %d", key, p.Timeout))
	}
	if p.MaxRetryTime.D() < 0 {
		errs = append(errs, fmt.Errorf("%s.max-retry-time: must not be negative", key))
	}
	if p.Workers < 1 || p.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("%s.workers: must be between 1 and %d, got %d", key, MaxWorkers, p.Workers))
	}
	if len(p.Filters.Usernames) > 0 && len(p.Filters.SkipUsernames) > 0 {
		for _, u := range p.Filters.SkipUsernames {
			if contains(p.Filters.Usernames, u) {
				errs = append(errs, fmt.Errorf("%s.filters: %q is both kept and skipped", key, u))
			}
		}
	}
	if _, err := filter.Compile(p.Filters.Expr); err != nil {
		errs = append(errs, fmt.Errorf("%s.filters.expr: %w", key, err))
	}
	info, ok := pumps.Lookup(p.Type)
	if !ok {
		return append(errs, unknownName(key+".type", "pump type", p.Type, pumps.Types()))
	}
	sink := info.New()
	if _, ok := sink.(pumps.Concurrent); !ok && p.Workers > 1 {
		errs = append(errs, fmt.Errorf("%s.workers: the %s sink writes one batch at a time (its batches land in the order they were read); want 1, got %d",
			key, p.Type, p.Workers))
	}
	if err := sink.Configure(p.Meta); err != nil {
		// Sinks name their keys from "meta"; anything else gets the prefix.
		if strings.HasPrefix(err.Error(), "meta") {
			errs = append(errs, fmt.Errorf("%s.%w", key, err))
		} else {
			errs = append(errs, fmt.Errorf("%s.meta: %w", key, err))
		}
	}
	return errs
}

func unknownName(key, what, name string, known []string) error {
	hint := ""
	if s := strict.Nearest(name, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s: unknown %s %q%s; known: %s", key, what, name, hint, strings.Join(known, ", "))
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want a port between 0 and 65535, got %q", port)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
