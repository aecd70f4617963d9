package mongo

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// The tests talk to a real MongoDB wire-protocol server: FerretDB on SQLite,
// embedded in the helper program of internal/testing/testenv/mongo (a module of its
// own, so FerretDB's dependencies stay out of the daemon's go.mod). It is
// built once per test process, unless PUMP_TEST_FERRETDB names a binary
// built before (`make` does that).

var (
	ferretOnce sync.Once
	ferretPath string
	ferretErr  error
)

func ferretBinary(t testing.TB) string {
	t.Helper()
	ferretOnce.Do(func() {
		if p := os.Getenv("PUMP_TEST_FERRETDB"); p != "" {
			if _, err := os.Stat(p); err != nil {
				ferretErr = errors.New("PUMP_TEST_FERRETDB: " + err.Error())
			}
			ferretPath = p
			return
		}
		dir, err := os.MkdirTemp("", "ferretdb-bin-")
		if err != nil {
			ferretErr = err
			return
		}
		ferretPath = filepath.Join(dir, "ferretdb-test")
		cmd := exec.Command("go", "build", "-o", ferretPath, ".")
		cmd.Dir = filepath.Join(testutil.ModuleRoot(t), "internal", "testing", "testenv", "mongo")
		if out, err := cmd.CombinedOutput(); err != nil {
			ferretErr = errors.New("build the FerretDB helper (internal/testing/testenv/mongo): " + err.Error() + "\n" + string(out))
		}
	})
	if ferretErr != nil {
		t.Fatal(ferretErr)
	}
	return ferretPath
}

// FerretDB is a FerretDB process owned by one test. Stop and Start keep its
// address and data, so a test can take the server away and bring it back.
type FerretDB struct {
	t    testing.TB
	URI  string // mongodb://127.0.0.1:port/ (with ?tls=true when serving TLS)
	addr string
	dir  string
	opts FerretOptions
	cmd  *exec.Cmd
	done chan struct{}
	log  *testutil.SyncBuffer
}

// FerretOptions tune StartFerretDB.
type FerretOptions struct {
	// TLSCert and TLSKey are PEM files; when set the server speaks TLS only.
	TLSCert, TLSKey string
}

// StartFerretDB starts a FerretDB on a free loopback port and stops it when
// the test ends.
func StartFerretDB(t testing.TB, opts ...FerretOptions) *FerretDB {
	t.Helper()
	f := &FerretDB{t: t, addr: "127.0.0.1:0", dir: t.TempDir(), log: &testutil.SyncBuffer{}}
	if len(opts) > 0 {
		f.opts = opts[0]
	}
	f.start()
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("FerretDB log:\n%s", f.log.String())
		}
	})
	return f
}

func (f *FerretDB) start() {
	f.t.Helper()
	args := []string{"-listen", f.addr, "-dir", f.dir}
	if f.opts.TLSCert != "" {
		args = append(args, "-tls-cert", f.opts.TLSCert, "-tls-key", f.opts.TLSKey)
	}
	cmd := exec.Command(ferretBinary(f.t), args...)
	cmd.Stderr = f.log
	// The helper also exits when its stdin closes, so it cannot outlive a
	// test binary that dies without cleaning up.
	if _, err := cmd.StdinPipe(); err != nil {
		f.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start FerretDB: %v", err)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	f.cmd = cmd
	f.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(cmd, f.done)
	select {
	case uri := <-lines:
		if !strings.HasPrefix(uri, "mongodb://") {
			f.Stop()
			f.t.Fatalf("FerretDB printed %q instead of its URI; log:\n%s", uri, f.log.String())
		}
		f.URI = uri
		f.addr, _, _ = strings.Cut(strings.TrimPrefix(uri, "mongodb://"), "/")
	case <-time.After(time.Minute):
		f.Stop()
		f.t.Fatalf("FerretDB did not print its URI within a minute; log:\n%s", f.log.String())
	}
}

// Stop ends the server with SIGTERM (SIGKILL if it lingers) and waits.
func (f *FerretDB) Stop() {
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	f.cmd = nil
}

// Start starts a stopped server again on the same address and data.
func (f *FerretDB) Start() {
	f.t.Helper()
	if f.cmd != nil {
		f.t.Fatal("FerretDB is already running")
	}
	f.start()
}

// URL returns the server's URI naming database db, without TLS options.
func (f *FerretDB) URL(db string) string { return "mongodb://" + f.addr + "/" + db }
