package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// pumpName is the pump's name in the benchmark's configuration, the label
// of its self-metrics.
const pumpName = "bench"

// stallTimeout ends a drain whose list has not shrunk for this long: the
// pump is retrying a failing sink, and its figure would mean nothing.
const stallTimeout = 2 * time.Minute

// pumpDrain runs the real pump binary against the seeded list (or stream)
// until it is empty, then checks what it wrote: the pump's own counters, the
// dead-letter and parked lists, and the count on the receiving server. A
// line with several instances runs that many pump processes at once, and
// its counters are their sums.
func pumpDrain(e *env, port int, b benchSink, t *target, c *redis.Client, n int) (result, error) {
	res := result{name: "pump → " + b.name + " (at-least-once)", records: n, server: t.server, inProc: t.inProc,
		stream: b.stream, instances: b.instances}
	extra := ""
	if e.batch > 0 {
		extra += fmt.Sprintf("batch-size: %d\n", e.batch)
	}
	workers := b.workers
	if workers > 0 && e.workers > 0 {
		workers = e.workers
	}
	res.workers = max(workers, 1)
	switch {
	case e.readAhead > 0:
		extra += fmt.Sprintf("read-ahead: %d\n", e.readAhead)
	case workers > 1:
		// Batches for every worker and two more read ahead.
		extra += fmt.Sprintf("read-ahead: %d\n", workers+2)
	}
	if b.stream {
		// claim-idle above the pumps' write timeouts, as validation asks;
		// nothing is claimed in a drain where no instance stops.
		extra += fmt.Sprintf("sources:\n  - {key: %s, mode: streams, claim-idle: 1m}\n", streamKey)
	}
	typ, names, metas := b.typ, []string{pumpName}, []string{t.meta}
	if typ == "" {
		typ = b.name
	}
	if len(t.metas) > 0 {
		names, metas = nil, t.metas
		for i := range metas {
			names = append(names, fmt.Sprintf("%s%d", pumpName, i+1))
		}
	}
	redisKeys := ""
	if b.redis != "" {
		redisKeys = ", " + b.redis
	}
	pumpsCfg := "pumps:\n"
	for i, name := range names {
		pumpsCfg += fmt.Sprintf("  %s:\n    type: %s\n    meta: %s\n", name, typ, metas[i])
		if workers > 1 {
			pumpsCfg += fmt.Sprintf("    workers: %d\n", workers)
		}
		if t.filterExpr != "" {
			pumpsCfg += fmt.Sprintf("    filters: {expr: %q}\n", t.filterExpr)
		}
	}
	instances := max(b.instances, 1)
	procs := make([]*pumpProc, instances)
	for i := range procs {
		healthPort, err := freePort()
		if err != nil {
			return res, err
		}
		id, file := "", "bench-"+b.name+".yaml"
		if instances > 1 {
			// Distinct consumers of the group, as distinct hosts would be.
			id = fmt.Sprintf("instance-id: %s-%d\n", b.name, i+1)
			file = fmt.Sprintf("bench-%s-%d.yaml", b.name, i+1)
		}
		cfg := fmt.Sprintf("purge-delay: 1\nhealth-check-address: 127.0.0.1:%d\nredis: {host: 127.0.0.1, port: %d%s}\n%s%s"+
			"log: {level: warn, output-paths: stderr}\n%s", healthPort, port, redisKeys, id, extra, pumpsCfg)
		path := filepath.Join(e.work, file)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return res, err
		}
		procs[i] = &pumpProc{cmd: exec.Command(e.bin, "run", "-c", path), healthPort: healthPort}
	}
	stopAll := func() {
		for _, p := range procs {
			p.kill()
		}
	}
	redisBefore, selfBefore := procCPU(e.redisPid), selfCPU()
	start := time.Now()
	var syncs *syscallCounter
	for _, p := range procs {
		p.cmd.Stderr = os.Stderr
		p.cmd.Stdout = t.stdout // nil: /dev/null
		if b.syncs {
			var err error
			var counter *syscallCounter
			if counter, res.syncsWhy, err = startCounted(p.cmd.Start, "fdatasync"); err != nil {
				stopAll()
				return res, err
			}
			if counter != nil {
				defer counter.close()
				if instances == 1 {
					syncs, res.syncsCounted = counter, true
				}
			}
		} else if err := p.cmd.Start(); err != nil {
			stopAll()
			return res, err
		}
		defer onExit(p.kill)()
		p.exited = make(chan error, 1)
		go func() { p.exited <- p.cmd.Wait() }()
	}
	backlog := func(ctx context.Context) (int64, error) { return c.LLen(ctx, key).Result() }
	what := "list"
	if b.stream {
		backlog, what = streamBacklog(c), "stream"
	}
	ctx := context.Background()
	last, lastChange := int64(-1), time.Now()
	for {
		left, err := backlog(ctx)
		if err != nil {
			stopAll()
			return res, err
		}
		if left == 0 {
			break
		}
		if left != last {
			last, lastChange = left, time.Now()
		} else if time.Since(lastChange) > stallTimeout {
			stopAll()
			return res, fmt.Errorf("the %s has stayed at %d records for %s: the pump is not getting through", what, left, stallTimeout)
		}
		for i, p := range procs {
			select {
			case err := <-p.exited:
				p.exited <- err // for kill
				stopAll()
				return res, fmt.Errorf("pump %d of %d exited before the %s drained: %v", i+1, instances, what, err)
			default:
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.took = time.Since(start)

	var metrics []string
	for _, p := range procs {
		m, err := scrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.healthPort))
		if err != nil {
			stopAll()
			return res, fmt.Errorf("scrape the pump's /metrics: %w", err)
		}
		metrics = append(metrics, m)
		// The peak RSS is the kernel's high-water mark of the pump's
		// memory, read until it exits (the stop flushes too). Not
		// getrusage's maxrss: Linux carries the parent's RSS at the fork
		// into the child's maxrss, so that would report pumpbench's size
		// whenever it is the larger.
		p.rssKB = peakRSS(p.cmd.Process.Pid, 0)
	}
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(time.Minute)
	for stopped := 0; stopped < instances; {
		select {
		case <-deadline:
			stopAll()
			return res, errors.New("the pump did not stop within a minute of SIGTERM")
		case <-time.After(10 * time.Millisecond):
		}
		for _, p := range procs {
			if p.done {
				continue
			}
			select {
			case err := <-p.exited:
				p.exited <- err
				if err != nil {
					stopAll()
					return res, fmt.Errorf("pump exit: %w", err)
				}
				p.done = true
				stopped++
				// The pump's own CPU, all its threads, over its whole
				// life: start, drain, and stop; several instances' add up.
				if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					res.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				}
			default:
				p.rssKB = peakRSS(p.cmd.Process.Pid, p.rssKB)
			}
		}
	}
	if after := procCPU(e.redisPid); redisBefore > 0 && after > 0 {
		res.redisCPU = after - redisBefore
	}
	if t.inProc {
		res.serverCPU = selfCPU() - selfBefore
	}
	for _, p := range procs {
		// Several instances: the largest's, each being a process of its own.
		res.rssKB = max(res.rssKB, p.rssKB)
	}

	if syncs != nil {
		n, err := syncs.count()
		if err != nil {
			return res, err
		}
		res.fdatasyncs = n
	}
	all := strings.Join(metrics, "\n")
	res.batches = metricSum(all, "pump_batch_size_records_count", "")

	// The pump's own account: every record written once to each pump (over
	// all instances), none dead-lettered or parked.
	for _, name := range names {
		written := metricSum(all, "pump_records_written_total", `pump="`+name+`"`)
		if written != float64(n) {
			return res, fmt.Errorf("pump %s counted %.0f records written, want %d", name, written, n)
		}
		for _, m := range []string{"pump_records_dead_lettered_total", "pump_records_parked_total"} {
			if v := metricSum(all, m, `pump="`+name+`"`); v != 0 {
				return res, fmt.Errorf("%s{pump=%q} is %.0f, want 0", m, name, v)
			}
		}
	}
	if v := metricSum(all, "pump_records_undecodable_total", ""); v != 0 {
		return res, fmt.Errorf("pump_records_undecodable_total is %.0f, want 0", v)
	}
	source := key
	if b.stream {
		source = streamKey
	}
	if left, err := leftovers(c, source); err != nil || left != 0 {
		return res, fmt.Errorf("%d records in the dead-letter and parked lists (%v)", left, err)
	}

	// A stream again, after the stop: nothing left or pending, nothing
	// came back.
	also := ""
	if b.stream {
		left, err := streamBacklog(c)(ctx)
		if err != nil || left != 0 {
			return res, fmt.Errorf("the stream holds %d entries, or pending ones, after the stop (%v)", left, err)
		}
		also = ", the stream and XPENDING empty"
	}
	if instances > 1 {
		var parts []string
		for _, m := range metrics {
			parts = append(parts, thousands(int(metricSum(m, "pump_records_written_total", ""))))
		}
		also += fmt.Sprintf(" (%s by the %d instances)", strings.Join(parts, " + "), instances)
	}

	// The server's account.
	if t.count == nil {
		res.check = fmt.Sprintf("%s counted by the pump (pump_records_written_total)%s", thousands(n), also)
		return res, nil
	}
	got, err := settle(func() (int, error) { return t.count(all) }, n)
	if err != nil {
		return res, fmt.Errorf("count on the server: %w", err)
	}
	if got != n {
		return res, fmt.Errorf("%s: %d records, want exactly %d", t.checked, got, n)
	}
	res.check = fmt.Sprintf("%s: %s%s", t.checked, thousands(n), also)
	return res, nil
}

// A pumpProc is one pump process of a drain.
type pumpProc struct {
	cmd        *exec.Cmd
	healthPort int
	exited     chan error // its Wait's result, put back by whoever takes it
	done       bool       // stopped, and counted
	rssKB      int64
}

// kill ends the process, if it started, and waits for it.
func (p *pumpProc) kill() {
	if p.cmd.Process == nil || p.exited == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	err := <-p.exited
	p.exited <- err
}

// settle polls count until it reaches want, or stops changing for five
// seconds (a server may still be reading what the pump sent just before it
// stopped: syslog has no acknowledgement), or a minute passes.
func settle(count func() (int, error), want int) (int, error) {
	deadline := time.Now().Add(time.Minute)
	last, lastChange := -1, time.Now()
	for {
		got, err := count()
		if err != nil {
			return 0, err
		}
		if got == want || time.Now().After(deadline) {
			return got, nil
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 5*time.Second {
			return got, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(url string) (string, error) {
	resp, err := http.Get(url) //nolint:gosec // a loopback URL this program made
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(body), nil
}

// metricSum adds the samples of a metric in the Prometheus text format
// whose labels contain label (all of them when label is empty).
func metricSum(text, name, label string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		labels := ""
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		}
		if label != "" && !strings.Contains(labels, label) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// peakRSS reads VmHWM (kB) of a running process from /proc, and returns
// the larger of it and last; last when the process is gone.
func peakRSS(pid int, last int64) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return last
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return max(kb, last)
				}
			}
		}
	}
	return last
}
