// Command pumpbench measures the pump's drain rate against the raw ceiling
// in one run: it starts its own redis-server, seeds N iam records, times an
// at-most-once LPOP+decode loop (the ceiling), then the real pump binary to
// each sink, and prints records/s, the ratio to the ceiling and peak RSS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-redis/redis/v8"

	"github.com/pumpd/pump/analytics"
)

const key = analytics.DefaultKey

type result struct {
	name    string
	records int
	took    time.Duration
	rssKB   int64
	note    string
}

func (r result) rate() float64 { return float64(r.records) / r.took.Seconds() }

func main() {
	n := flag.Int("records", 1_000_000, "records to seed for each drain")
	sinks := flag.String("sinks", "dummy,jsonl,csv", "comma-separated sinks to drain into")
	out := flag.String("out", "", "also write the table to this Markdown file")
	batch := flag.Int("batch-size", 0, "the pump's batch-size (0: its default)")
	readAhead := flag.Int("read-ahead", 0, "the pump's read-ahead (0: its default)")
	flag.Parse()
	if err := run(*n, strings.Split(*sinks, ","), *out, *batch, *readAhead); err != nil {
		fmt.Fprintln(os.Stderr, "pumpbench:", err)
		os.Exit(1)
	}
}

func run(n int, sinks []string, out string, batch, readAhead int) error {
	work, err := os.MkdirTemp("", "pumpbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "pump")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pump")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the pump: %w", err)
	}
	port, stopRedis, err := startRedis(work)
	if err != nil {
		return err
	}
	defer stopRedis()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer client.Close()

	records := sampleRecords()
	var results []result
	fmt.Fprintf(os.Stderr, "seeding %d records of ~%d bytes\n", n, len(records[0]))
	if err := seed(client, records, n); err != nil {
		return err
	}
	ceiling, err := rawDrain(client, n)
	if err != nil {
		return err
	}
	results = append(results, ceiling)
	report(ceiling, ceiling)
	for _, sink := range sinks {
		if err := seed(client, records, n); err != nil {
			return err
		}
		r, err := pumpDrain(bin, work, port, sink, client, n, batch, readAhead)
		if err != nil {
			return fmt.Errorf("%s: %w", sink, err)
		}
		results = append(results, r)
		report(r, ceiling)
	}
	if out != "" {
		return writeMarkdown(out, results, n)
	}
	return nil
}

func report(r, ceiling result) {
	fmt.Printf("%-34s %9d records/s  %5.2fx ceiling  peak RSS %s\n", r.name, int(r.rate()), r.rate()/ceiling.rate(), rss(r.rssKB))
}

func rss(kb int64) string {
	if kb == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func startRedis(dir string) (int, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start redis-server (make test-deps installs it): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			stop()
			return 0, nil, errors.New("redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, stop, nil
}

// sampleRecords are realistic iam records (~650 bytes encoded) with
// varying users; the seed cycles through them.
func sampleRecords() [][]byte {
	var out [][]byte
	for i := 0; i < 64; i++ {
		user := fmt.Sprintf("user-%d", i%7)
		rec := analytics.Record{
			TimeStamp: 1764057600 + int64(i), Username: user, Effect: "allow",
			Conclusion: "policies 68819e5a-738b-41ec-b03c-b58a1b19d043 allow access",
			Request: `{"resource":"resources:articles:ladon-introduction","action":"delete","subject":"users:` + user +
				`","context":{"remoteIP":"192.168.0.5","username":"` + user + `"}}`,
			Policies: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","description":"One policy to rule them all.","subjects":["users:<peter|ken>","users:maria","groups:admins"],"effect":"allow","resources":["resources:articles:<.*>","resources:printer"],"actions":["delete","<create|update>"],"conditions":{"remoteIP":{"type":"CIDRCondition","options":{"cidr":"192.168.0.1/16"}}},"meta":null}]`,
			Deciders: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","effect":"allow"}]`,
			ExpireAt: time.Unix(1764057600, 0).AddDate(100, 0, 0),
		}
		b, err := analytics.Encode(&rec)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

func seed(c *redis.Client, records [][]byte, n int) error {
	ctx := context.Background()
	if err := c.Del(ctx, key).Err(); err != nil {
		return err
	}
	const chunk = 5000
	pipe := c.Pipeline()
	for start := 0; start < n; start += chunk {
		vals := make([]any, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			vals = append(vals, records[i%len(records)])
		}
		pipe.RPush(ctx, key, vals...)
		if pipe.Len() >= 20 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// rawDrain is the ceiling: LPOP 1000 and decode, at-most-once, nothing
// written — what an unsafe pump does at best.
func rawDrain(c *redis.Client, n int) (result, error) {
	ctx := context.Background()
	start := time.Now()
	got := 0
	for {
		vals, err := c.LPopCount(ctx, key, 1000).Result()
		if errors.Is(err, redis.Nil) || len(vals) == 0 {
			break
		}
		if err != nil {
			return result{}, err
		}
		for _, v := range vals {
			if _, err := analytics.Decode([]byte(v)); err != nil {
				return result{}, err
			}
		}
		got += len(vals)
	}
	if got != n {
		return result{}, fmt.Errorf("raw drain read %d, want %d", got, n)
	}
	return result{name: "ceiling: LPOP 1000 + decode (unsafe)", records: n, took: time.Since(start)}, nil
}

func pumpDrain(bin, work string, port int, sink string, c *redis.Client, n, batch, readAhead int) (result, error) {
	outDir := filepath.Join(work, "out-"+sink)
	os.RemoveAll(outDir)
	var meta string
	switch sink {
	case "dummy":
		meta = "{}"
	case "csv":
		meta = fmt.Sprintf("{csv_dir: %q}", outDir)
	case "jsonl":
		meta = fmt.Sprintf("{path: %q}", filepath.Join(outDir, "out.jsonl"))
	default:
		return result{}, fmt.Errorf("no benchmark configuration for sink %q", sink)
	}
	extra := ""
	if batch > 0 {
		extra += fmt.Sprintf("batch-size: %d\n", batch)
	}
	if readAhead > 0 {
		extra += fmt.Sprintf("read-ahead: %d\n", readAhead)
	}
	cfg := fmt.Sprintf("purge-delay: 1\nhealth-check-address: 127.0.0.1:0\nredis: {host: 127.0.0.1, port: %d}\n%s"+
		"log: {level: warn, output-paths: stderr}\npumps:\n  bench: {type: %s, meta: %s}\n", port, extra, sink, meta)
	path := filepath.Join(work, "bench-"+sink+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "run", "-c", path)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx := context.Background()
	for {
		left, err := c.LLen(ctx, key).Result()
		if err != nil {
			_ = cmd.Process.Kill()
			<-exited
			return result{}, err
		}
		if left == 0 {
			break
		}
		select {
		case err := <-exited:
			return result{}, fmt.Errorf("the pump exited before the list drained: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	took := time.Since(start)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		return result{}, fmt.Errorf("pump exit: %w", err)
	}
	var maxKB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxKB = ru.Maxrss
	}
	return result{name: "pump → " + sink + " (at-least-once)", records: n, took: took, rssKB: maxKB}, nil
}

func writeMarkdown(path string, results []result, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Drain benchmark\n\n`make bench` (cmd/pumpbench), %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s; %s; %s. %d records of ~650 bytes per drain, one redis-server on loopback.\n\n",
		cpuModel(), runtime.NumCPU(), memTotal(), redisVersion(), runtime.Version(), n)
	b.WriteString("Absolute rates vary 2-3x between machines and runs; the ratio to the ceiling, measured in the same run, is the figure to compare.\n\n")
	b.WriteString("| drain | records/s | ratio to the ceiling | peak RSS |\n|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %.2f | %s |\n", r.name, int(r.rate()), r.rate()/results[0].rate(), rss(r.rssKB))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return fmt.Sprintf("%.0f GiB RAM", kb/1024/1024)
			}
		}
	}
	return "unknown RAM"
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "redis-server unknown"
	}
	f := strings.Fields(string(out))
	for _, w := range f {
		if strings.HasPrefix(w, "v=") {
			return "Redis " + strings.TrimPrefix(w, "v=")
		}
	}
	return strings.TrimSpace(string(out))
}
