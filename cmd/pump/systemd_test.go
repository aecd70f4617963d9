//go:build linux

package main

import (
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// TestSystemdNotifyProtocol plays systemd: it listens on the notify socket
// and checks READY, WATCHDOG, RELOADING and STOPPING arrive.
func TestSystemdNotifyProtocol(t *testing.T) {
	testutil.NeedsBinary(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	saw := func(state string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if strings.Contains(g, state) {
					return true
				}
			}
			return false
		}
	}
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, "  d:\n    type: dummy\n", "")
	p := testutil.StartPump(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}, "-c", d.ConfigPath)
	testutil.Eventually(t, 30*time.Second, "READY=1", saw("READY=1"))
	testutil.Eventually(t, 30*time.Second, "WATCHDOG=1", saw("WATCHDOG=1"))
	p.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 30*time.Second, "RELOADING=1", saw("RELOADING=1"))
	p.Signal(syscall.SIGTERM)
	testutil.Eventually(t, 30*time.Second, "STOPPING=1", saw("STOPPING=1"))
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
