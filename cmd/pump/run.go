package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/logging"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/server"
	"github.com/pumpd/pump/storage"
)

func cmdRun(args []string, _, stderr io.Writer) int {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	path := config.AddFlags(fs)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	log, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "pump: invalid configuration:\n  %v\n", err)
		return exitConfig
	}
	// Sinks that log use log/slog; send that through the same zap logger.
	slog.SetDefault(slog.New(zapslog.NewHandler(log.Core())))
	stop := pump.SetupSignalHandler()
	if err := runDaemon(cfg, log, stop); err != nil {
		log.Error("pump failed", zap.Error(err))
		_ = log.Sync()
		return exitFailed
	}
	return exitOK
}

// runDaemon starts the sinks, the HTTP server and the loop, and stops them
// all, in order, after stop is closed.
func runDaemon(cfg config.Config, log *zap.Logger, stop <-chan struct{}) (err error) {
	if cfg.InstanceID == "" {
		host, _ := os.Hostname()
		cfg.InstanceID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	log.Info("starting", zap.String("version", versionString()), zap.String("instance", cfg.InstanceID),
		zap.Any("config", cfg.RedactedMap()))

	var shutdown pump.ShutdownManager
	defer func() {
		// Whatever started is stopped, also after a failed start.
		ctx, cancel := context.WithTimeout(context.Background(), closeShare(cfg.ShutdownTimeout.D()))
		defer cancel()
		err = errors.Join(err, shutdown.Shutdown(ctx))
		_ = log.Sync()
	}()

	startCtx, cancelStart := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStart()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	outputs, err := startOutputs(startCtx, cfg, registry, log, &shutdown)
	if err != nil {
		return err
	}

	client, err := storage.NewClient(cfg.Redis)
	if err != nil {
		return err
	}
	queue := storage.NewQueue(client, cfg.AnalyticsKey, cfg.InstanceID, cfg.LeaseTTL.D())

	health := pump.NewHealth(staleAfter(cfg))
	srv, err := server.New(server.Options{
		Addr: cfg.HealthCheckAddress, HealthPath: cfg.HealthCheckPath, Middlewares: cfg.Server.Middlewares,
		Prober: health, Registry: registry, Logger: log,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	// Order matters: the server goes first (probes say "stopping" until then),
	// the Redis client after the loop released the lease.
	shutdown.Register("http server", srv.Shutdown)
	shutdown.Register("redis client", func(context.Context) error { return client.Close() })
	if err := srv.SelfCheck(startCtx); err != nil {
		return err
	}
	log.Info("serving probes", zap.String("health", srv.HealthURL()), zap.String("addr", srv.Addr()))

	loop := pump.New(pump.Options{Config: drainConfig(cfg), Queue: queue, Outputs: outputs, Logger: log, Health: health})
	registry.MustRegister(loop, buildInfo())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			health.SetStopping()
			log.Info("stop signal: finishing the batches in flight (a second signal exits at once)",
				zap.Duration("shutdown_timeout", cfg.ShutdownTimeout.D()))
			cancel()
		case <-ctx.Done():
		}
	}()
	health.SetStarted()
	runErr := loop.Run(ctx)
	read, undecodable := loop.Records()
	fields := []zap.Field{zap.Int64("read", read), zap.Int64("dead_lettered_undecodable", undecodable)}
	for _, out := range outputs {
		fields = append(fields, zap.Int64("written."+out.Name, out.Stats.Written.Load()),
			zap.Int64("parked."+out.Name, out.Stats.Parked.Load()))
	}
	log.Info("loop stopped", fields...)
	return runErr
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "pump_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// closeShare is the part of the shutdown timeout kept for closing sinks and
// servers after the batches in flight.
func closeShare(total time.Duration) time.Duration {
	return min(5*time.Second, total/4)
}

// drainConfig gives the loop its share of the shutdown timeout.
func drainConfig(cfg config.Config) config.Config {
	total := cfg.ShutdownTimeout.D()
	cfg.ShutdownTimeout = config.Duration(total - closeShare(total))
	return cfg
}

// staleAfter is how long the loop may go without progress before liveness
// fails: longer than the longest legitimate wait (a tick, one write).
func staleAfter(cfg config.Config) time.Duration {
	d := max(3*time.Duration(cfg.PurgeDelay)*time.Second, 30*time.Second)
	var longest time.Duration
	for _, p := range cfg.Pumps {
		longest = max(longest, p.WriteTimeout())
	}
	return d + longest
}

// startOutputs configures and initialises every pump, registering each
// one's Close with the shutdown manager. A pump that fails to start fails
// the start-up: running without it would silently lose its copy.
func startOutputs(ctx context.Context, cfg config.Config, reg *prometheus.Registry, log *zap.Logger, shutdown *pump.ShutdownManager) ([]*pump.Output, error) {
	names := make([]string, 0, len(cfg.Pumps))
	for name := range cfg.Pumps {
		names = append(names, name)
	}
	sort.Strings(names)
	var outputs []*pump.Output
	for _, name := range names {
		pc := cfg.Pumps[name]
		info, ok := pumps.Lookup(pc.Type)
		if !ok {
			return nil, fmt.Errorf("pumps.%s.type: unknown pump type %q", name, pc.Type)
		}
		sink := info.New()
		if err := sink.Configure(pc.Meta); err != nil {
			return nil, fmt.Errorf("pumps.%s: %w", name, err)
		}
		if err := sink.Init(ctx); err != nil {
			return nil, fmt.Errorf("pump %s (%s): start: %w", name, pc.Type, err)
		}
		if c, ok := sink.(prometheus.Collector); ok {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pump %s: register metrics: %w", name, err)
			}
		}
		shutdown.Register("pump "+name, func(ctx context.Context) error { return sink.Close(ctx) })
		outputs = append(outputs, &pump.Output{Name: name, Sink: sink, Config: pc})
		log.Info("pump ready", zap.String("pump", name), zap.String("type", pc.Type))
	}
	return outputs, nil
}
