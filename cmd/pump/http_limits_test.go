//go:build linux

package main

// The HTTP listeners' limits, measured on the real binary: unauthenticated
// clients that never finish their headers must not grow the process.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// procStatusKiB reads one "VmXxx:  123 kB" line of /proc/PID/status.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// flood opens conns connections to addr at once and sends each the start
// of a request whose one header is headerBytes long and never ends. Each
// connection then waits until the server hangs up (a 431 answer, or its
// header timeout), so the server has done all it will with the flood when
// flood returns. It returns how many answers were 431.
func flood(t *testing.T, addr string, conns, headerBytes int) (tooLarge int) {
	t.Helper()
	payload := []byte("GET /metrics HTTP/1.1\r\nHost: pump\r\nX-Flood: " + strings.Repeat("a", headerBytes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, time.Minute)
			if err != nil {
				t.Errorf("dial %s: %v", addr, err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Minute))
			_, _ = c.Write(payload) // a server that hangs up early cuts it short
			answer, _ := io.ReadAll(c)
			if strings.HasPrefix(string(answer), "HTTP/1.1 431") {
				mu.Lock()
				tooLarge++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return tooLarge
}

// 300 connections with 1 MB of unfinished headers took the daemon from
// 29 MB to 680 MB of RSS before the listeners had limits; the Kubernetes
// example gives the pump 256Mi. The bound here is generous (the race
// detector's shadow memory included); the peak is the kernel's VmHWM,
// reset before each flood, so no timing matters.
func TestHeaderFloodKeepsMemoryBounded(t *testing.T) {
	testutil.NeedsBinary(t)
	const (
		conns       = 300
		headerBytes = 1 << 20
		boundMiB    = 120
	)
	r := testutil.StartRedis(t)
	promAddr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	d := testutil.WriteConfig(t, r.Port, fmt.Sprintf(`  dummy: {type: dummy}
  prom:
    type: prometheus
    meta: {listen_address: %q}
`, promAddr), "")
	p := testutil.StartPump(t, nil, "run", "-c", d.ConfigPath)
	testutil.Eventually(t, 2*time.Minute, "the pump ready and the prometheus listener up", func() bool {
		return testutil.HTTPStatus(d.ReadyURL()) == 200 && testutil.HTTPStatus("http://"+promAddr+"/metrics") == 200
	})
	pid := p.Cmd.Process.Pid
	for _, target := range []struct{ name, addr string }{
		{"daemon server", d.HealthAddr},
		{"prometheus sink listener", promAddr},
	} {
		t.Run(target.name, func(t *testing.T) {
			// "5" resets the peak resident size to the current one.
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
				t.Skipf("cannot reset the peak RSS: %v", err)
			}
			before := procStatusKiB(t, pid, "VmRSS")
			tooLarge := flood(t, target.addr, conns, headerBytes)
			peak := procStatusKiB(t, pid, "VmHWM")
			growth := (peak - before) / 1024
			t.Logf("%d connections with %d-byte unfinished headers (%d answered 431): RSS %d MiB, peak %d MiB (+%d MiB)",
				conns, headerBytes, tooLarge, before/1024, peak/1024, growth)
			if growth > boundMiB {
				t.Errorf("the flood grew the pump's RSS by %d MiB (from %d to %d MiB), want at most %d MiB", growth, before/1024, peak/1024, boundMiB)
			}
			if testutil.HTTPStatus(d.HealthURL()) != 200 {
				t.Errorf("the pump's health check fails after the flood")
			}
		})
	}
	if p.Exited() {
		t.Fatalf("the pump exited during the flood:\n%s", p.Output())
	}
}
