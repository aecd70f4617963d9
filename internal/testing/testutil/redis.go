package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server process owned by one test.
type Redis struct {
	t       testing.TB
	Addr    string
	Port    int
	dir     string
	persist bool
	pass    string
	cmd     *exec.Cmd
	exited  chan struct{}
	client  *redis.Client
}

// RedisOptions tune StartRedis.
type RedisOptions struct {
	// Persist turns on the append-only file (fsync every write), as a
	// production Redis would run, so a restart keeps the data.
	Persist bool
	// Password makes the server require it (requirepass).
	Password string
}

// StartRedis starts a redis-server on a free loopback port and stops it when
// the test ends. The test is failed when redis-server is not installed:
// `make test` installs it.
func StartRedis(t testing.TB, opts ...RedisOptions) *Redis {
	t.Helper()
	var o RedisOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (make test installs it): %v", err)
	}
	r := &Redis{t: t, dir: t.TempDir(), persist: o.Persist, pass: o.Password, Port: FreePort(t)}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	r.start()
	t.Cleanup(func() {
		if r.client != nil {
			_ = r.client.Close()
		}
		r.Kill()
	})
	return r
}

func (r *Redis) start() {
	r.t.Helper()
	args := []string{
		"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"),
	}
	if r.pass != "" {
		args = append(args, "--requirepass", r.pass)
	}
	if r.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	r.cmd = exec.Command("redis-server", args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.exited)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.pass})
	defer c.Close()
	Eventually(r.t, 10*time.Second, "redis-server answers PING on "+r.Addr, func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// Client returns a client of this server, shared by the test.
func (r *Redis) Client() *redis.Client {
	if r.client == nil {
		r.client = redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.pass})
	}
	return r.client
}

// Kill stops the server at once (SIGKILL); its data survives only when
// persistence is on.
func (r *Redis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Restart kills the server and starts it again on the same port and data
// directory.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	r.start()
}

// Start starts a server that was killed.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("redis-server is already running")
	}
	r.start()
}

// Log returns what redis-server wrote to its log, for failure messages.
func (r *Redis) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	return string(b)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually polls cond every few milliseconds until it holds or the
// deadline passes, then fails the test saying what was awaited.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// Pf is fmt.Sprintf, for short messages in Eventually.
var Pf = fmt.Sprintf
