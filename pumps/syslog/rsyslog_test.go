//go:build linux

package syslog

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// rsyslogd is a real rsyslog daemon started by a test, listening on
// loopback tcp, tls and udp and writing every message it parsed to a file, one
// line each: PRI, the reported time as Unix seconds, HOSTNAME, APP-NAME and
// MSG, as rsyslog itself understood them.
type rsyslogd struct {
	t             testing.TB
	tcp, tls, udp string // host:port of each input
	caFile        string // the CA of the tls input's certificate, for clients to trust
	out           string // the file rsyslog writes
}

// startRsyslogd fails the test when rsyslogd is missing: `make test`
// (scripts/test-deps.sh) installs Debian's rsyslog and rsyslog-gnutls.
func startRsyslogd(t testing.TB) *rsyslogd {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd" // outside root's PATH
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("rsyslogd is not installed; scripts/test-deps.sh, run by make test, installs Debian's rsyslog package: %v", err)
		}
	}
	dir := t.TempDir()
	r := &rsyslogd{t: t, out: filepath.Join(dir, "messages.log")}
	tcpPort, tlsPort, udpPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	r.tcp = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort))
	r.tls = net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	r.udp = net.JoinHostPort("127.0.0.1", strconv.Itoa(udpPort))
	tlsFiles := testutil.WriteTLSFiles(t)
	r.caFile = tlsFiles.CA
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k"
	defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="%d")
input(type="imtcp" address="127.0.0.1" port="%d" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="%d" rcvbufSize="4m")
template(name="check" type="list") {
	property(name="pri") constant(value=" ")
	property(name="timereported" dateFormat="unixtimestamp") constant(value=" ")
	property(name="hostname") constant(value=" ")
	property(name="app-name") constant(value=" ")
	property(name="msg") constant(value="\n")
}
*.* action(type="omfile" file=%q template="check")
`, dir, tlsFiles.CA, tlsFiles.Cert, tlsFiles.Key, tcpPort, tlsPort, udpPort, r.out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(bin, "-N1", "-f", confPath).Run(); err != nil {
		out, _ := exec.Command(bin, "-N1", "-f", confPath).CombinedOutput()
		t.Fatalf("rsyslogd rejects the test's configuration: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", logs.String())
		}
	})
	// Ready when a probe sent over each input comes out in the file: udp
	// gives no other sign of a bound socket.
	for _, transport := range []string{"tcp", "tls", "udp"} {
		probe := "probe-" + transport
		testutil.Eventually(t, 30*time.Second, "rsyslogd passes a probe over "+transport, func() bool {
			if c, err := r.dial(transport); err == nil {
				fmt.Fprintf(c, "<14>1 - - probe - - - %s\n", probe)
				c.Close()
			}
			return strings.Contains(r.contents(), " "+probe+"\n")
		})
	}
	return r
}

func (r *rsyslogd) addr(transport string) string {
	return map[string]string{"tcp": r.tcp, "tls": r.tls, "udp": r.udp}[transport]
}

func (r *rsyslogd) dial(transport string) (net.Conn, error) {
	if transport == "tls" {
		// Only a probe: the sink's own certificate checks are what is tested.
		return tls.Dial("tcp", r.tls, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a probe of the test's own server
	}
	return net.Dial(transport, r.addr(transport))
}

func (r *rsyslogd) contents() string {
	b, err := os.ReadFile(r.out)
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	return string(b)
}

// rsyslogLine is one message as rsyslog parsed it.
type rsyslogLine struct {
	pri      int
	reported int64
	hostname string
	appName  string
	record   analytics.Record
}

// waitFor returns the first n messages of iam-pump that rsyslog wrote.
func (r *rsyslogd) waitFor(n int) []rsyslogLine {
	r.t.Helper()
	var lines []rsyslogLine
	testutil.Eventually(r.t, 30*time.Second, testutil.Pf("rsyslog wrote %d messages", n), func() bool {
		lines = r.parse()
		return len(lines) >= n
	})
	return lines
}

func (r *rsyslogd) parse() []rsyslogLine {
	r.t.Helper()
	var lines []rsyslogLine
	sc := bufio.NewScanner(strings.NewReader(r.contents()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 5)
		if len(fields) != 5 {
			r.t.Fatalf("rsyslog wrote %q: want PRI TIME HOST APP MSG", sc.Text())
		}
		if strings.HasPrefix(fields[3], "probe") {
			continue
		}
		var l rsyslogLine
		var err1, err2 error
		l.pri, err1 = strconv.Atoi(fields[0])
		l.reported, err2 = strconv.ParseInt(fields[1], 10, 64)
		l.hostname, l.appName = fields[2], fields[3]
		dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(fields[4], " ")))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l.record); err1 != nil || err2 != nil || err != nil {
			r.t.Fatalf("rsyslog wrote %q: PRI %v, time %v, MSG not a record: %v", sc.Text(), err1, err2, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestRsyslogParsesEveryMessage sends through a real rsyslog daemon, which
// checks what the test's own receiver cannot: that an independent syslog
// implementation frames and parses the sink's messages as intended.
func TestRsyslogParsesEveryMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rsyslogd")
	}
	tests := []deliveryCase{
		{"tcp", "rfc5424", "octet-counting"},
		{"tcp", "rfc5424", "non-transparent"},
		{"tcp", "rfc3164", "non-transparent"},
		{"tls", "rfc5424", "octet-counting"},
		{"udp", "rfc5424", ""},
		{"udp", "rfc3164", ""},
	}
	for _, tt := range tests {
		t.Run(tt.String(), func(t *testing.T) {
			rs := startRsyslogd(t)
			caFile := ""
			if tt.transport == "tls" {
				caFile = rs.caFile // verified: the certificate names 127.0.0.1
			}
			batch, want := writeGoldenAndSeeded(t, tt, rs.addr(tt.transport), caFile, 200)
			lines := rs.waitFor(len(batch))
			if len(lines) != len(batch) {
				t.Fatalf("rsyslog wrote %d messages, want %d", len(lines), len(batch))
			}
			// udp may reorder in principle; on loopback it does not, and the
			// order is part of what the tcp cases check.
			for i, l := range lines {
				if l.pri != 16*8+5 || l.hostname != "auth-1" || l.appName != "iam-pump" {
					t.Fatalf("message %d: PRI %d, HOSTNAME %q, APP-NAME %q; want 133, auth-1, iam-pump", i, l.pri, l.hostname, l.appName)
				}
				// RFC 3164 has no year or zone: rsyslog fills in its own.
				if tt.format == "rfc5424" && l.reported != want[i].TimeStamp {
					t.Fatalf("message %d: rsyslog read the time as %d, want the decision's %d", i, l.reported, want[i].TimeStamp)
				}
				if !testutil.SameRecord(l.record, want[i]) {
					t.Fatalf("message %d: rsyslog's MSG holds %+v, want %+v", i, l.record, want[i])
				}
			}
		})
	}
}
