package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/logging"
	"github.com/pumpd/pump/internal/statusline"
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
	src := config.Source{Path: *path, Flags: fs}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	log, line, err := logging.NewWithStatus(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "pump: invalid configuration:\n  %v\n", err)
		return exitConfig
	}
	if line != nil { // on a terminal: a live status line below the log
		defer line.Close()
		shareTerminal(line, cfg.Log.OutputPaths)
	}
	// Sinks that log use log/slog; send that through the same zap logger.
	slog.SetDefault(slog.New(zapslog.NewHandler(log.Core())))
	if limit, from := applyMemoryLimit(cfg.MemoryLimit); limit > 0 {
		log.Info("memory limit", zap.String("limit", config.ByteSize(limit).String()), zap.String("from", from))
	}
	stop := SetupSignalHandler()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reloads := make(chan reloadRequest)
	go func() {
		for range hup {
			reloads <- reloadRequest{}
		}
	}()
	d := &daemon{cfg: cfg, log: log, reload: func() (config.Config, error) {
		c, _, err := config.Load(src)
		return c, err
	}, reloads: reloads, statusLine: line}
	if err := d.run(stop); err != nil {
		if errors.Is(err, pump.ErrStopDeadline) {
			log.Warn("stopped at the shutdown timeout, not cleanly: exit status 1", zap.Error(err))
			_ = log.Sync()
			return exitFailed
		}
		log.Error("pump failed", zap.Error(err))
		_ = log.Sync()
		return exitFailed
	}
	return exitOK
}

// reloadRequest asks the daemon to re-read its configuration; the outcome
// is sent on reply when it is not nil.
type reloadRequest struct {
	reply chan error
}

// daemon owns what runs: the sinks, the HTTP server, the loop.
type daemon struct {
	cfg     config.Config
	log     *zap.Logger
	reload  func() (config.Config, error) // nil: no reload
	reloads chan reloadRequest
	// statusLine, when not nil, is redrawn with the loop's progress.
	statusLine *statusline.Line

	registry *prometheus.Registry
	drains   []*drain // one per source
	healths  *pump.Healths
	mu       sync.Mutex // guards outputs against a concurrent scrape
	outputs  []*pump.Output
}

// drain is one source the daemon drains: its loop, the lease and lists
// of its key, and its health.
type drain struct {
	src    config.Input
	queue  *storage.Queue
	health *pump.Health
	loop   *pump.Loop
}

// run starts the sinks, the HTTP server and the loop, serves reloads, and
// stops them all, in order, after stop is closed.
func (d *daemon) run(stop <-chan struct{}) (err error) {
	cfg, log := d.cfg, d.log
	if cfg.InstanceID == "" {
		host, _ := os.Hostname()
		cfg.InstanceID = fmt.Sprintf("%s-%d", host, os.Getpid())
		d.cfg.InstanceID = cfg.InstanceID
	}
	log.Info("starting", zap.String("version", versionString()), zap.String("instance", cfg.InstanceID),
		zap.Any("config", cfg.RedactedMap()))

	var shutdown ShutdownManager
	defer func() {
		// Whatever started is stopped, also after a failed start.
		ctx, cancel := context.WithTimeout(context.Background(), closeShare(cfg.ShutdownTimeout.D()))
		defer cancel()
		err = errors.Join(err, shutdown.Shutdown(ctx))
		_ = log.Sync()
	}()

	startCtx, cancelStart := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStart()
	d.registry = prometheus.NewRegistry()
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	// The sinks close first, after the loop: each flushes what it holds.
	shutdown.Register("pumps", d.closeOutputs)
	outputs, err := d.startOutputs(startCtx, cfg.Pumps)
	if err != nil {
		return err
	}
	d.setOutputs(outputs)
	d.registry.MustRegister(sinkMetrics{d}, pump.OutputMetrics(d.currentOutputs))

	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		return err
	}
	// The loops exist before the server, whose /status reads them.
	sources := cfg.SourceList()
	share := pump.NewLeaseShare(len(sources))
	d.healths = &pump.Healths{PumpsDown: d.pumpsDown}
	for _, src := range sources {
		dr := d.newDrain(client, src, share)
		d.drains = append(d.drains, dr)
		d.healths.Add(src.Key, dr.health)
		prometheus.WrapRegistererWith(prometheus.Labels{"source": src.Key}, d.registry).MustRegister(dr.loop)
	}
	srv, err := server.New(server.Options{
		Addr: cfg.HealthCheckAddress, HealthPath: cfg.HealthCheckPath, Middlewares: cfg.Server.Middlewares, Settings: httpSettings(cfg.Server),
		Prober: d.healths, Registry: d.registry, Logger: log, Admin: d.adminRoutes(),
		Pprof: cfg.Server.Pprof, Status: d.status(),
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	// Then the server (probes say "stopping" until it goes), then Redis,
	// after the loop released the lease.
	shutdown.Register("http server", srv.Shutdown)
	shutdown.Register("redis client", closeRedisClient(log, client))
	if err := srv.SelfCheck(startCtx); err != nil {
		return err
	}
	log.Info("serving probes", zap.String("health", srv.HealthURL()), zap.String("addr", srv.Addr()))
	logRoutes(log, cfg.Server, srv)

	if d.statusLine != nil {
		statusCtx, stopStatus := context.WithCancel(context.Background())
		defer stopStatus()
		go d.showStatus(statusCtx, d.statusLine)
	}
	d.healths.SetStarted()
	notify := systemdNotifier(log, d.healths)
	defer notify.stop()
	notify.send(sd.SdNotifyReady)

	for {
		ctx, cancel := context.WithCancelCause(context.Background())
		done := d.runLoops(ctx, cancel)
		var runErr error
		stopped := false
	wait:
		for {
			select {
			case <-stop:
				d.healths.SetStopping()
				notify.send(sd.SdNotifyStopping)
				log.Info("stop signal: finishing the batches in flight (a second signal exits at once)",
					zap.Duration("shutdown_timeout", cfg.ShutdownTimeout.D()))
				cancel(nil)
				runErr = <-done
				stopped = true
				break wait
			case runErr = <-done:
				cancel(nil)
				stopped = true
				break wait
			case req := <-d.reloads:
				notify.send(sd.SdNotifyReloading)
				err := d.applyReload(func() { cancel(pump.ErrReload) }, done)
				notify.send(sd.SdNotifyReady)
				if req.reply != nil {
					req.reply <- err
				}
				if err == nil {
					break wait // the loop stopped for the swap; start it again
				}
			}
		}
		if stopped {
			d.logTotals()
			return runErr
		}
	}
}

// newDrain prepares the loop of src, feeding the pumps it names.
func (d *daemon) newDrain(client storage.Client, src config.Input, share *pump.LeaseShare) *drain {
	cfg := d.cfg
	log := d.log.With(zap.String("source", src.Key))
	queue := storage.NewQueue(client, src.Key, cfg.InstanceID, cfg.LeaseTTL.D())
	queue.SetWaitReplicas(cfg.Redis.WaitReplicas, cfg.Redis.WaitTimeout.D())
	queue.OnReplication(func(ok bool, acked, want int) {
		if ok {
			log.Info("trims acknowledged by the replicas again", zap.Int("replicas", acked), zap.Int("wait-replicas", want))
			return
		}
		log.Warn("trims not acknowledged by enough replicas within redis.wait-timeout: a failover now may deliver their batches again",
			zap.Int("acknowledged", acked), zap.Int("wait-replicas", want), zap.Duration("wait-timeout", cfg.Redis.WaitTimeout.D()))
	})
	queue.OnTakeover(func(dead string) {
		log.Warn("took the drain lease over from a dead instance on this host, without waiting out its TTL", zap.String("dead_holder", dead))
	})
	var stream *storage.Stream
	if src.Mode == config.ModeStreams {
		stream = storage.NewStream(client, src.Key, storage.StreamOptions{Group: src.Group, Consumer: cfg.InstanceID, Field: src.Field})
	}
	health := pump.NewHealth(staleAfter(cfg))
	loop := pump.New(pump.Options{Settings: loopSettings(cfg, src), Queue: queue, Stream: stream,
		Outputs: fed(src, d.outputs), Logger: log, Health: health, Share: share})
	return &drain{src: src, queue: queue, health: health, loop: loop}
}

// runLoops runs every source's loop until ctx ends; the first to return
// ends the others. The channel has their errors once all returned.
func (d *daemon) runLoops(ctx context.Context, cancel context.CancelCauseFunc) <-chan error {
	done := make(chan error, 1)
	errs := make([]error, len(d.drains))
	var wg sync.WaitGroup
	for i, dr := range d.drains {
		wg.Go(func() {
			errs[i] = dr.loop.Run(ctx)
			cancel(nil) // no effect once ctx ended (a stop, a reload)
		})
	}
	go func() {
		wg.Wait()
		done <- errors.Join(errs...)
	}()
	return done
}

// records sums what the loops read and could not decode.
func (d *daemon) records() (read, undecodable int64) {
	for _, dr := range d.drains {
		r, u := dr.loop.Records()
		read, undecodable = read+r, undecodable+u
	}
	return read, undecodable
}

func (d *daemon) logTotals() {
	read, undecodable := d.records()
	fields := []zap.Field{zap.Int64("read", read), zap.Int64("dead_lettered_undecodable", undecodable)}
	fields = append(fields, pump.PumpsField(d.outputs, func(_ int, out *pump.Output) []zap.Field {
		return []zap.Field{zap.Int64("written", out.Stats.Written.Load()), zap.Int64("parked", out.Stats.Parked.Load())}
	}))
	d.log.Info("loop stopped", fields...)
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

// loopSettings are the loop's settings, with its share of the shutdown
// timeout: what closeShare leaves.
func loopSettings(cfg config.Config, src config.Input) pump.Settings {
	total := cfg.ShutdownTimeout.D()
	s := pump.SettingsOf(cfg, total-closeShare(total))
	s.ClaimIdle, s.MaxDeliveries = src.ClaimIdle.D(), src.MaxDeliveries
	return s
}

// fed are the outputs src feeds.
func fed(src config.Input, outputs []*pump.Output) []*pump.Output {
	var out []*pump.Output
	for _, o := range outputs {
		if src.Feeds(o.Name) {
			out = append(out, o)
		}
	}
	return out
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

// startOutputs configures and initialises the pumps named in pumpsCfg. A
// bad configuration or a permanent Init error fails the whole call, and
// those already started are closed again. A transient Init error (the
// sink's server is down) does not: that pump starts at its first write
// that succeeds, its records parked meanwhile, so one sink's outage at boot
// does not stop the others.
func (d *daemon) startOutputs(ctx context.Context, pumpsCfg map[string]config.Pump) ([]*pump.Output, error) {
	var outputs []*pump.Output
	fail := func(err error) ([]*pump.Output, error) {
		for _, out := range outputs {
			_ = out.Sink.Close(ctx)
		}
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(pumpsCfg)) {
		pc := pumpsCfg[name]
		info, ok := pumps.Lookup(pc.Type)
		if !ok {
			return fail(fmt.Errorf("pumps.%s.type: unknown pump type %q", name, pc.Type))
		}
		sink := info.New()
		if err := sink.Configure(pc.Meta); err != nil {
			return fail(fmt.Errorf("pumps.%s: %w", name, err))
		}
		out := &pump.Output{Name: name, Sink: sink, Config: pc}
		if err := sink.Init(ctx); err != nil {
			if pumps.IsPermanent(err) {
				return fail(fmt.Errorf("pump %s (%s): start: %w", name, pc.Type, err))
			}
			// Its server is down: the others need not wait. Its records are
			// retried and parked until it starts.
			d.log.Error("pump could not start; its records are retried and parked until it does",
				zap.String("pump", name), zap.String("type", pc.Type), zap.Error(err))
			out.NeedsInit.Store(true)
		} else {
			d.log.Info("pump ready", zap.String("pump", name), zap.String("type", pc.Type))
		}
		outputs = append(outputs, out)
	}
	return outputs, nil
}

// sinkMetrics serves the metrics of the sinks that have their own (the
// prometheus sink) from whichever sinks run now, so a reload can swap them.
// It describes nothing up front: the registry then treats it as unchecked.
type sinkMetrics struct{ d *daemon }

func (sinkMetrics) Describe(chan<- *prometheus.Desc) {}

func (m sinkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.d.mu.Lock()
	outputs := m.d.outputs
	m.d.mu.Unlock()
	for _, out := range outputs {
		if c, ok := out.Sink.(prometheus.Collector); ok {
			c.Collect(ch)
		}
	}
}

// closeOutputs flushes and closes every current pump.
func (d *daemon) closeOutputs(ctx context.Context) error {
	var errs []error
	for _, out := range d.outputs {
		if err := out.Sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("pump %s: %w", out.Name, err))
		}
	}
	d.setOutputs(nil)
	return errors.Join(errs...)
}

func (d *daemon) setOutputs(outputs []*pump.Output) {
	d.mu.Lock()
	d.outputs = outputs
	d.mu.Unlock()
}

// closeRedisClient closes the client at shutdown, after the loop released
// the lease. Its error is only a warning: nothing is lost by then, and a
// connection the client's pool already saw closed (after a Sentinel
// failover, "use of closed network connection") must not turn a clean stop
// into exit status 1, which systemd counts as a failure.
func closeRedisClient(log *zap.Logger, client storage.Client) func(context.Context) error {
	return func(context.Context) error {
		if err := client.Close(); err != nil {
			log.Warn("closing the redis client failed; the stop is clean all the same", zap.Error(err))
		}
		return nil
	}
}

// pumpsDown names the current pumps that are down, for /readyz.
func (d *daemon) pumpsDown() []string { return pump.DownNames(d.currentOutputs()) }

// currentOutputs are the pumps that run now, for a scrape or a probe.
func (d *daemon) currentOutputs() []*pump.Output {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outputs
}
