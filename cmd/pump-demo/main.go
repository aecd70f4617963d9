// Command pump-demo shows the pump at work with nothing to set up: it
// starts an embedded Redis, fills it with iam records as iam's
// authorization server would, and runs the real pump binary against it as
// a child process, relaying its output. Ctrl-C stops the producer, lets
// the pump drain what is left and stop, and says what moved. `make demo`
// builds both binaries and runs this one.
//
// The embedded Redis (miniredis and its Lua VM) lives here, not in the
// pump: the production binary links no demo code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/pumpd/pump/storage"
	"github.com/spf13/pflag"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/statusline"
)

// Exit statuses, as the pump's.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// purgeDelay is the demo pump's tick: short, so records move at once.
const purgeDelay = 1

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pump-demo", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "demo-out", "directory for the CSV files and the demo's configuration")
	rate := fs.Int("rate", 200, "records produced per second")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: run until Ctrl-C)")
	addr := fs.String("health-check-address", "127.0.0.1:0", "the pump's HTTP address (port 0: a free port)")
	pumpPath := fs.String("pump", "", "the pump binary (default: pump beside this program, as make demo builds it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pump-demo: %v\n", err)
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pump-demo: "+format+"\n", a...)
		return exitFailed
	}
	pumpBin, err := findPump(*pumpPath)
	if err != nil {
		return fail("%v", err)
	}
	httpAddr, err := pickAddr(*addr)
	if err != nil {
		return fail("health-check-address: %v", err)
	}
	// Signals from here on are ours to handle: the first stops the demo
	// cleanly, a second one stops the pump at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// Ctrl-C reaches this program only (not make, not the pump), so make
	// sees the exit status the demo chooses.
	defer takeTerminal().restore()

	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return fail("start the embedded Redis: %v", err)
	}
	defer mr.Close()
	client, err := storage.NewClient(storage.Options{Addrs: []string{mr.Addr()}})
	if err != nil {
		return fail("%v", err)
	}
	defer client.Close()
	list := storage.NewQueue(client, analytics.DefaultKey, "demo-producer", time.Minute)

	csvDir, err := filepath.Abs(filepath.Join(*out, "csv"))
	if err != nil {
		return fail("%v", err)
	}
	if err := os.MkdirAll(csvDir, 0o755); err != nil {
		return fail("%v", err)
	}
	// An earlier demo's files stay; the summary counts this run's rows.
	rowsBefore := countCSVRows(csvDir)
	cfgPath := filepath.Join(*out, "pump-demo.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(httpAddr, mr, csvDir)), 0o600); err != nil {
		return fail("write the configuration: %v", err)
	}
	fmt.Fprintf(stderr, "demo: embedded Redis on %s; producing %d iam records/s onto %s\n", mr.Addr(), *rate, analytics.DefaultKey)

	ctx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	var produced atomic.Int64
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		if err := produceRecords(ctx, client, *rate, &produced); err != nil {
			fmt.Fprintf(stderr, "demo: producer stopped: %v\n", err)
		}
	}()

	fmt.Fprintf(stderr, "demo: starting the pump: %s run -c %s\n", pumpBin, cfgPath)
	pump := exec.Command(pumpBin, "run", "-c", cfgPath)
	pump.Stdout, pump.Stderr = stdout, stderr
	ownProcessGroup(pump)
	if err := pump.Start(); err != nil {
		return fail("start the pump: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pump.Wait() }()

	var timeout <-chan time.Time
	if *duration > 0 {
		timeout = time.After(*duration)
	}
	base := "http://" + httpAddr
	ready := time.NewTicker(100 * time.Millisecond)
	defer ready.Stop()
	var exitErr error
	stopping := false
loop:
	for {
		select {
		case exitErr = <-exited:
			break loop
		case <-ready.C:
			if status(base+"/readyz") == http.StatusOK {
				ready.Stop()
				banner(stderr, base, csvDir)
			}
		case <-sigs:
			if stopping {
				fmt.Fprintln(stderr, "demo: second signal: stopping the pump at once")
				_ = pump.Process.Signal(syscall.SIGINT)
				continue
			}
			stopping = true
			go stopDemo(stderr, stopProducing, producerDone, list, pump, sigs)
		case <-timeout:
			stopping = true
			go stopDemo(stderr, stopProducing, producerDone, list, pump, sigs)
		}
	}
	stopProducing()
	<-producerDone
	left, _ := client.LLen(context.Background(), analytics.DefaultKey).Result()
	rows := countCSVRows(csvDir) - rowsBefore
	fmt.Fprintf(stdout, "demo: produced %d records; %d new rows in the CSV files under %s; %d left in Redis\n",
		produced.Load(), rows, csvDir, left)
	if exitErr != nil {
		return fail("the pump stopped: %v", exitErr)
	}
	if !stopping {
		return fail("the pump stopped by itself")
	}
	return exitOK
}

// stopDemo stops the producer, gives the pump a few ticks to drain what is
// left (the embedded Redis ends with the demo), then stops the pump as a
// service manager would, with SIGTERM.
func stopDemo(stderr io.Writer, stopProducing context.CancelFunc, producerDone <-chan struct{}, list *storage.Queue, pump *exec.Cmd, sigs chan os.Signal) {
	stopProducing()
	<-producerDone
	fmt.Fprintln(stderr, lineStart(stderr)+"demo: producer stopped; the pump drains what is left, then stops (Ctrl-C again stops it at once)")
	deadline := time.Now().Add((purgeDelay + 3) * time.Second)
	for time.Now().Before(deadline) {
		if n, err := list.Len(context.Background(), list.Key()); err == nil && n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = pump.Process.Signal(syscall.SIGTERM)
}

// lineStart goes before the demo's own lines while the pump runs: on a
// terminal the pump's status line holds the cursor's row, and this erases
// it (the pump draws it again after its next log line).
func lineStart(w io.Writer) string {
	if f, ok := w.(*os.File); ok && statusline.IsTerminal(f) {
		return "\r\x1b[K"
	}
	return ""
}

func banner(w io.Writer, base, csvDir string) {
	fmt.Fprintf(w, lineStart(w)+`demo: the pump is ready and draining.
  liveness   %[1]s/healthz
  readiness  %[1]s/readyz
  metrics    %[1]s/metrics
  status     %[1]s/status
  CSV files  %[2]s (every record); user maria's records on stdout
  Ctrl-C stops it cleanly.
`, base, csvDir)
}

// demoConfig is the pump's configuration: every record into hourly CSV
// files, maria's records (details omitted) on stdout, logs on stderr.
func demoConfig(httpAddr string, mr *miniredis.Miniredis, csvDir string) string {
	return fmt.Sprintf(`purge-delay: %d
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
`, purgeDelay, httpAddr, mr.Host(), mr.Port(), csvDir)
}

// findPump returns the pump binary: the one named, or the one beside this
// program.
func findPump(named string) (string, error) {
	if named != "" {
		return exec.LookPath(named)
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), "pump")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no pump binary beside %s (make demo builds both; or name one with --pump): %w", self, err)
	}
	return path, nil
}

// pickAddr turns port 0 into a free port now, so the banner can name the
// probe URLs before the pump listens.
func pickAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func status(url string) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
