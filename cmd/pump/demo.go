package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/logging"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/storage"
)

// cmdDemo runs the real daemon against an in-process Redis that a producer
// fills with iam records, so the pump can be seen working with no setup.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	out := fs.String("out", "demo-out", "directory for the CSV files")
	rate := fs.Int("rate", 200, "records produced per second")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: run until Ctrl-C)")
	addr := fs.String("health-check-address", "127.0.0.1:0", "listen address of the HTTP server")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		fmt.Fprintf(stderr, "pump demo: start embedded redis: %v\n", err)
		return exitFailed
	}
	defer mr.Close()

	csvDir, _ := filepath.Abs(filepath.Join(*out, "csv"))
	// An earlier demo's files stay; the summary counts this run's rows.
	rowsBefore := countCSVRows(csvDir)
	yamlText := fmt.Sprintf(`
purge-delay: 1
health-check-address: %q
redis: {host: %q, port: %s}
pumps:
  csv:
    type: csv
    meta: {csv_dir: %q}
  stdout:
    type: stdout
    omit-detailed-recording: true
    filters: {usernames: [maria]}
    meta: {prefix: "record for maria: "}
log: {level: info, format: console, output-paths: stderr}
`, *addr, mr.Host(), mr.Port(), csvDir)
	cfg, err := config.Parse(yamlText)
	if err != nil {
		fmt.Fprintf(stderr, "pump demo: %v\n", err)
		return exitFailed
	}
	log, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "pump demo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "demo: embedded Redis on %s, producing %d iam records/s onto %s; CSV files in %s. Ctrl-C stops.\n",
		mr.Addr(), *rate, cfg.AnalyticsKey, csvDir)

	slog.SetDefault(slog.New(zapslog.NewHandler(log.Core())))
	stop := pump.SetupSignalHandler()
	if *duration > 0 {
		stop = stopAfter(stop, *duration)
	}
	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		fmt.Fprintf(stderr, "pump demo: %v\n", err)
		return exitFailed
	}
	defer client.Close()
	// The producer's side of the list: iam's servers RPUSH onto it.
	list := storage.NewQueue(client, cfg.AnalyticsKey, "demo-producer", cfg.LeaseTTL.D())
	ctx, cancel := context.WithCancel(context.Background())
	var produced atomic.Int64
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		produce(ctx, list, *rate, &produced, log)
	}()
	// On Ctrl-C the producer stops first and the daemon gets one more tick
	// to drain what is left, since the embedded Redis ends with the demo.
	daemonStop := make(chan struct{})
	go func() {
		<-stop
		cancel()
		<-producerDone
		fmt.Fprintln(stderr, "demo: producer stopped; draining what is left, then stopping (Ctrl-C again exits at once)")
		deadline := time.Now().Add(time.Duration(cfg.PurgeDelay+3) * time.Second)
		for time.Now().Before(deadline) {
			if n, err := list.Len(context.Background(), list.Key()); err == nil && n == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(daemonStop)
	}()

	err = runDaemon(cfg, log, daemonStop)
	left, _ := list.Len(context.Background(), list.Key())
	rows := countCSVRows(csvDir) - rowsBefore
	fmt.Fprintf(stdout, "demo: produced %d records; %d new rows in the CSV files under %s; %d left in Redis\n",
		produced.Load(), rows, csvDir, left)
	if err != nil {
		fmt.Fprintf(stderr, "pump demo: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func stopAfter(stop <-chan struct{}, d time.Duration) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-time.After(d):
		}
		close(out)
	}()
	return out
}

var demoUsers = []string{"peter", "maria", "ken", "admin", "ops-bot"}

// produce RPUSHes records as iam's authorization server would.
func produce(ctx context.Context, list *storage.Queue, rate int, n *atomic.Int64, log *zap.Logger) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/10, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		vals := make([][]byte, 0, perTick)
		for i := 0; i < perTick; i++ {
			rec := demoRecord()
			b, err := analytics.Encode(&rec)
			if err != nil {
				log.Error("demo producer", zap.Error(err))
				return
			}
			vals = append(vals, b)
		}
		// Not ctx: a push cancelled mid-flight may still land, and then the
		// count would miss it.
		if err := list.Push(context.Background(), list.Key(), vals); err != nil {
			log.Error("demo producer", zap.Error(err))
			return
		}
		n.Add(int64(len(vals)))
	}
}

func demoRecord() analytics.Record {
	user := demoUsers[rand.IntN(len(demoUsers))]
	effect, conclusion := "allow", "policies 68819e5a allow access"
	if rand.IntN(4) == 0 {
		effect, conclusion = "deny", "policy deny-all-printers forcefully denied the access"
	}
	now := time.Now()
	return analytics.Record{
		TimeStamp:  now.Unix(),
		Username:   user,
		Effect:     effect,
		Conclusion: conclusion,
		Request:    fmt.Sprintf(`{"resource":"resources:printer","action":"print","subject":"users:%s","context":{"remoteIP":"192.168.0.%d"}}`, user, rand.IntN(254)+1),
		Policies:   `[{"id":"68819e5a","effect":"allow","subjects":["users:<peter|ken>"],"resources":["resources:<.*>"]}]`,
		Deciders:   `[{"id":"68819e5a","effect":"allow"}]`,
		ExpireAt:   now.AddDate(100, 0, 0),
	}
}

// countCSVRows counts the records in the CSV files, headers excluded.
func countCSVRows(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	rows := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		all, _ := csv.NewReader(f).ReadAll()
		f.Close()
		rows += max(len(all)-1, 0)
	}
	return rows
}
