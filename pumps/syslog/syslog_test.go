//go:build linux

package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// message is one syslog message as the test receiver parsed it.
type message struct {
	priority int
	header   []string // RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD; RFC 3164: TIMESTAMP HOSTNAME TAG
	record   analytics.Record
}

// receiver is a syslog server started by a test: it accepts on a real
// socket, splits frames (octet counting, newlines or datagrams), parses
// each message's header and decodes its JSON text.
type receiver struct {
	t        testing.TB
	network  string // tcp, tls, unix, udp or unixgram
	format   string
	framing  string
	addr     string
	tlsConf  *tls.Config
	tlsFiles testutil.TLSFiles // the receiver's certificate and its CA, for clients to trust

	mu       sync.Mutex
	ln       net.Listener
	pc       net.PacketConn
	conns    []net.Conn
	pending  [][]byte // received, not parsed yet
	messages []message
	errs     []error
	wg       sync.WaitGroup
}

func startReceiver(t testing.TB, network, format, framing string) *receiver {
	t.Helper()
	r := &receiver{t: t, network: network, format: format, framing: framing}
	switch network {
	case "unix", "unixgram":
		r.addr = filepath.Join(shortTempDir(t), "syslog.sock")
	default:
		r.addr = "127.0.0.1:0"
	}
	if network == "tls" {
		r.tlsConf, r.tlsFiles = serverTLS(t)
	}
	r.listen()
	t.Cleanup(r.stop)
	return r
}

// shortTempDir is a temp dir with a path short enough for a unix socket.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *receiver) listen() {
	r.t.Helper()
	var err error
	switch r.network {
	case "udp", "unixgram":
		r.pc, err = net.ListenPacket(r.network, r.addr)
		if err == nil {
			r.addr = r.pc.LocalAddr().String()
			if uc, ok := r.pc.(*net.UDPConn); ok {
				_ = uc.SetReadBuffer(8 << 20)
			}
			if uc, ok := r.pc.(*net.UnixConn); ok {
				_ = uc.SetReadBuffer(8 << 20)
			}
			r.wg.Add(1)
			go r.readPackets(r.pc)
		}
	case "tls":
		r.ln, err = tls.Listen("tcp", r.addr, r.tlsConf)
	default:
		r.ln, err = net.Listen(r.network, r.addr)
	}
	if err != nil {
		r.t.Fatalf("listen %s %s: %v", r.network, r.addr, err)
	}
	if r.ln != nil {
		r.addr = r.ln.Addr().String()
		r.wg.Add(1)
		go r.accept(r.ln)
	}
}

func (r *receiver) accept(ln net.Listener) {
	defer r.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		r.wg.Add(1)
		go r.readStream(c)
	}
}

func (r *receiver) readStream(c net.Conn) {
	defer r.wg.Done()
	br := bufio.NewReader(c)
	for {
		var msg []byte
		if r.framing == "octet-counting" {
			n, err := br.ReadString(' ')
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					r.fail(fmt.Errorf("read frame length: %w", err))
				}
				return
			}
			size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
			if err != nil || size <= 0 || n[0] == '0' {
				r.fail(fmt.Errorf("bad octet count %q", n))
				return
			}
			msg = make([]byte, size)
			if _, err := io.ReadFull(br, msg); err != nil {
				r.fail(fmt.Errorf("read %d-byte frame: %w", size, err))
				return
			}
		} else {
			line, err := br.ReadBytes('\n')
			if err != nil {
				if len(line) > 0 || !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					r.fail(fmt.Errorf("read line: %w", err))
				}
				return
			}
			msg = line[:len(line)-1]
		}
		r.add(msg)
	}
}

// datagramCapacity is how many of the pump's datagrams (a record of about
// 700 bytes, charged by the kernel at 2-3 KiB each with its buffers) the
// packet socket's receive buffer holds.
func (r *receiver) datagramCapacity() int {
	r.t.Helper()
	sc, ok := r.pc.(syscall.Conn)
	if !ok {
		r.t.Fatalf("%s receiver has no packet socket", r.network)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		r.t.Fatal(err)
	}
	var size int
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		size, sockErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || sockErr != nil {
		r.t.Fatalf("read SO_RCVBUF: %v %v", err, sockErr)
	}
	const perDatagram = 4096 // generous: truesize of a ~700-byte datagram is below 3 KiB
	if size/perDatagram < 100 {
		r.t.Skipf("the receive buffer holds %d bytes, too few datagrams to test a drain over udp", size)
	}
	return size / perDatagram
}

func (r *receiver) readPackets(pc net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r.add(append([]byte(nil), buf[:n]...))
	}
}

// add keeps a message to be parsed when the test looks, so the reader
// keeps up with datagrams, which the kernel drops once its buffer is full.
func (r *receiver) add(raw []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, raw)
}

func (r *receiver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// parse checks a message's header field by field and decodes its text.
func parse(format string, raw []byte) (message, error) {
	var m message
	s := string(raw)
	end := strings.IndexByte(s, '>')
	if !strings.HasPrefix(s, "<") || end < 2 || end > 4 {
		return m, errors.New("no <PRI>")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri > 191 {
		return m, fmt.Errorf("bad PRI %q", s[1:end])
	}
	m.priority = pri
	s = s[end+1:]
	var text string
	switch format {
	case "rfc5424":
		parts := strings.SplitN(s, " ", 8)
		if len(parts) != 8 {
			return m, errors.New("fewer than 8 space-separated fields")
		}
		m.header, text = parts[:7], parts[7]
		if m.header[0] != "1" {
			return m, fmt.Errorf("VERSION %q", m.header[0])
		}
		if m.header[1] != "-" {
			if _, err := time.Parse(time.RFC3339Nano, m.header[1]); err != nil {
				return m, fmt.Errorf("TIMESTAMP: %w", err)
			}
		}
		for i, max := range []int{0, 0, 255, 48, 128, 32} {
			if i >= 2 && (len(m.header[i]) == 0 || len(m.header[i]) > max || !printable(m.header[i])) {
				return m, fmt.Errorf("header field %d %q", i, m.header[i])
			}
		}
		if m.header[6] != "-" {
			return m, fmt.Errorf("STRUCTURED-DATA %q", m.header[6])
		}
	case "rfc3164":
		if len(s) < 16 || s[15] != ' ' {
			return m, errors.New("no TIMESTAMP")
		}
		if _, err := time.Parse(time.Stamp, s[:15]); err != nil {
			return m, fmt.Errorf("TIMESTAMP: %w", err)
		}
		rest := strings.SplitN(s[16:], " ", 3)
		if len(rest) != 3 || !strings.HasSuffix(rest[1], "]:") {
			return m, errors.New("no HOSTNAME TAG[PID]:")
		}
		m.header, text = []string{s[:15], rest[0], rest[1]}, rest[2]
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m.record); err != nil {
		return m, fmt.Errorf("message text is not a record as JSON: %w", err)
	}
	if dec.More() {
		return m, errors.New("trailing data after the JSON record")
	}
	return m, nil
}

func (r *receiver) received() ([]message, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, raw := range r.pending {
		m, err := parse(r.format, raw)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%w in %q", err, raw))
			continue
		}
		r.messages = append(r.messages, m)
	}
	r.pending = nil
	return append([]message(nil), r.messages...), append([]error(nil), r.errs...)
}

// dropConnections closes every accepted connection, as a restarting
// receiver would, and keeps listening.
func (r *receiver) dropConnections() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
}

func (r *receiver) stop() {
	if r.ln != nil {
		_ = r.ln.Close()
	}
	if r.pc != nil {
		_ = r.pc.Close()
	}
	r.dropConnections()
	r.wg.Wait()
}

// waitFor polls until n messages arrived and returns them; a malformed
// message fails the test.
func (r *receiver) waitFor(n int) []message {
	r.t.Helper()
	var msgs []message
	testutil.Eventually(r.t, 20*time.Second, testutil.Pf("%d syslog messages on %s", n, r.network), func() bool {
		var errs []error
		msgs, errs = r.received()
		if len(errs) > 0 {
			r.t.Fatalf("receiver: %v", errs[0])
		}
		return len(msgs) >= n
	})
	return msgs
}

// serverTLS serves a fresh certificate for 127.0.0.1 signed by a test CA,
// whose files it returns.
func serverTLS(t testing.TB) (*tls.Config, testutil.TLSFiles) {
	t.Helper()
	files := testutil.WriteTLSFiles(t)
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, files
}

// caFile is the CA that signed the receiver's certificate.
func (r *receiver) caFile(testing.TB) string { return r.tlsFiles.CA }

func seeded(from, to int) []analytics.Record {
	out := make([]analytics.Record, 0, to-from)
	for i := from; i < to; i++ {
		r := testutil.MakeRecord(i)
		r.Raw = []byte(testutil.RecordID(i))
		out = append(out, r)
	}
	return out
}

func newSink(t testing.TB, meta pumps.Meta) *Syslog {
	return testutil.StartSink(t, New(), meta)
}

func TestConfigureRejectsBadMeta(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"unknown transport", pumps.Meta{"transport": "http"}, `meta.transport: want udp, tcp, tls, unix or unixgram, got "http"`},
		{"address without port", pumps.Meta{"transport": "tcp", "network_addr": "localhost"}, `meta.network_addr: want host:port for transport tcp, got "localhost"`},
		{"unix without a path", pumps.Meta{"transport": "unixgram"}, "meta.network_addr: want the socket's path for transport unixgram"},
		{"priority out of range", pumps.Meta{"log_level": 192}, "meta.log_level: want a syslog priority from 0 to 191"},
		{"log_level not a number", pumps.Meta{"log_level": "info"}, `meta.log_level: want a whole number, got "info"`},
		{"unknown facility", pumps.Meta{"facility": "locl0"}, `meta.facility: want one of kern, user,`},
		{"facility number too big", pumps.Meta{"facility": 24}, "meta.facility: want a name or a number from 0 to 23, got 24"},
		{"unknown severity", pumps.Meta{"severity": "loud"}, `meta.severity: want one of emerg,`},
		{"tag with a space", pumps.Meta{"tag": "iam pump"}, `meta.tag: want 1 to 48 printable ASCII characters without spaces, got "iam pump"`},
		{"empty tag", pumps.Meta{"tag": ""}, "meta.tag: "},
		{"hostname with a space", pumps.Meta{"hostname": "a b"}, "meta.hostname: "},
		{"unknown format", pumps.Meta{"format": "cef"}, `meta.format: want rfc5424 or rfc3164, got "cef"`},
		{"unknown framing", pumps.Meta{"framing": "nul"}, `meta.framing: want octet-counting or non-transparent, got "nul"`},
		{"tls keys without tls", pumps.Meta{"transport": "tcp", "network_addr": "h:1", "tls_ca_file": "/ca.pem"}, "meta.transport: the tls_* keys need transport tls"},
		{"certificate without key", pumps.Meta{"transport": "tls", "network_addr": "h:1", "tls_cert_file": "/c.pem"}, "meta.tls_cert_file: tls_cert_file and tls_key_file go together"},
		{"typo in a key", pumps.Meta{"network_adr": "h:1"}, `meta.network_adr: unknown key (did you mean "network_addr"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Configure(%v) = %v, want an error starting %q", tt.meta, err, tt.want)
			}
		})
	}
}

func TestConfigurePriority(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want int
	}{
		{"default is user.info", pumps.Meta{}, 14},
		{"iam's log_level is the whole priority", pumps.Meta{"log_level": 134}, 134},
		{"iam's log_level 0 stays kern.emerg", pumps.Meta{"log_level": 0}, 0},
		{"facility by name keeps the severity", pumps.Meta{"facility": "local3"}, 19*8 + 6},
		{"severity by alias", pumps.Meta{"severity": "warn"}, 8 + 4},
		{"numbers override log_level", pumps.Meta{"log_level": 134, "facility": 4, "severity": "2"}, 4*8 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			if err := s.Configure(tt.meta); err != nil {
				t.Fatal(err)
			}
			if s.priority != tt.want {
				t.Fatalf("priority = %d, want %d", s.priority, tt.want)
			}
		})
	}
}

// deliveryCase is one way of sending: transport, format and framing (""
// for the sink's default).
type deliveryCase struct{ transport, format, framing string }

func (c deliveryCase) String() string { return c.transport + "/" + c.format + "/" + c.framing }

// writeGoldenAndSeeded sends the golden records and then n seeded ones to
// addr as local0.notice from host auth-1 with tag iam-pump (trusting caFile
// when set), and returns what it sent and, in order, the record each
// message must carry.
func writeGoldenAndSeeded(t *testing.T, c deliveryCase, addr, caFile string, n int) (sent, want []analytics.Record) {
	t.Helper()
	meta := pumps.Meta{
		"transport": c.transport, "network_addr": addr, "format": c.format,
		"tag": "iam-pump", "facility": "local0", "severity": "notice", "hostname": "auth-1",
	}
	if c.framing != "" {
		meta["framing"] = c.framing
	}
	if caFile != "" {
		meta["tls_ca_file"] = caFile
	}
	s := newSink(t, meta)
	sent = append(append(sent, testutil.GoldenDecoded(t)...), seeded(0, n)...)
	if err := testutil.Write(t, s, sent); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return sent, append(testutil.GoldenExpected(t), sent[len(sent)-n:]...)
}

func TestWriteDeliversEveryRecord(t *testing.T) {
	tests := []deliveryCase{
		{"udp", "rfc5424", "octet-counting"},
		{"udp", "rfc3164", "octet-counting"},
		{"tcp", "rfc5424", "octet-counting"},
		{"tcp", "rfc3164", "non-transparent"},
		{"tls", "rfc5424", "octet-counting"},
		{"unix", "rfc5424", "octet-counting"},
		{"unix", "rfc3164", "non-transparent"},
		{"unixgram", "rfc3164", "octet-counting"},
	}
	for _, tt := range tests {
		t.Run(tt.String(), func(t *testing.T) {
			rcv := startReceiver(t, tt.transport, tt.format, tt.framing)
			caFile := ""
			if tt.transport == "tls" {
				caFile = rcv.caFile(t)
			}
			batch, want := writeGoldenAndSeeded(t, tt, rcv.addr, caFile, 500)
			golden := len(batch) - 500
			msgs := rcv.waitFor(len(batch))
			if len(msgs) != len(batch) {
				t.Fatalf("received %d messages, want %d", len(msgs), len(batch))
			}
			for i, m := range msgs[:golden] {
				if !testutil.SameRecord(m.record, want[i]) {
					t.Errorf("golden record %d arrived as %+v, want %+v", i, m.record, want[i])
				}
			}
			seen := map[string]bool{}
			for i, m := range msgs {
				if m.priority != 16*8+5 {
					t.Fatalf("message %d: PRI %d, want local0.notice (133)", i, m.priority)
				}
				switch tt.format {
				case "rfc5424":
					ts := time.Unix(batch[i].TimeStamp, 0).UTC().Format(time.RFC3339)
					want := []string{"1", ts, "auth-1", "iam-pump", strconv.Itoa(os.Getpid()), "-", "-"}
					if !reflect.DeepEqual(m.header, want) {
						t.Fatalf("message %d header %q, want %q", i, m.header, want)
					}
				case "rfc3164":
					ts := time.Unix(batch[i].TimeStamp, 0).Format(time.Stamp)
					want := []string{ts, "auth-1", "iam-pump[" + strconv.Itoa(os.Getpid()) + "]:"}
					if !reflect.DeepEqual(m.header, want) {
						t.Fatalf("message %d header %q, want %q", i, m.header, want)
					}
				}
				if i >= golden {
					if !testutil.SameRecord(m.record, want[i]) {
						t.Fatalf("message %d: record %+v, want %+v", i, m.record, want[i])
					}
					seen[testutil.IDOf(m.record)] = true
				}
			}
			for i := 0; i < 500; i++ {
				if !seen[testutil.RecordID(i)] {
					t.Fatalf("record %s never arrived", testutil.RecordID(i))
				}
			}
		})
	}
}

func TestWriteReconnectsAfterReceiverRestart(t *testing.T) {
	for _, transport := range []string{"tcp", "tls", "unix"} {
		t.Run(transport+"/connections dropped", func(t *testing.T) {
			rcv := startReceiver(t, transport, "rfc5424", "octet-counting")
			meta := pumps.Meta{"transport": transport, "network_addr": rcv.addr}
			if transport == "tls" {
				meta["tls_ca_file"] = rcv.caFile(t)
			}
			s := newSink(t, meta)
			if err := testutil.Write(t, s, seeded(0, 10)); err != nil {
				t.Fatal(err)
			}
			rcv.waitFor(10)
			rcv.dropConnections()
			// The next batch goes to a fresh connection instead of into
			// the dead one.
			if err := testutil.Write(t, s, seeded(10, 20)); err != nil {
				t.Fatalf("Write after the receiver hung up: %v", err)
			}
			msgs := rcv.waitFor(20)
			for i, m := range msgs {
				if got, want := testutil.IDOf(m.record), testutil.RecordID(i); got != want {
					t.Fatalf("message %d carries %s, want %s", i, got, want)
				}
			}
		})
	}
	t.Run("tcp/receiver down, then back", func(t *testing.T) {
		rcv := startReceiver(t, "tcp", "rfc5424", "octet-counting")
		s := newSink(t, pumps.Meta{"transport": "tcp", "network_addr": rcv.addr})
		if err := testutil.Write(t, s, seeded(0, 5)); err != nil {
			t.Fatal(err)
		}
		rcv.waitFor(5)
		rcv.stop()
		err := testutil.Write(t, s, seeded(5, 10))
		if err == nil {
			t.Fatal("Write to a receiver that is down succeeded")
		}
		if pumps.IsPermanent(err) {
			t.Fatalf("a receiver that is down is a permanent failure: %v", err)
		}
		back := &receiver{t: t, network: "tcp", format: "rfc5424", framing: "octet-counting", addr: rcv.addr}
		back.listen()
		t.Cleanup(back.stop)
		if err := testutil.Write(t, s, seeded(5, 10)); err != nil {
			t.Fatalf("Write once the receiver is back: %v", err)
		}
		msgs := back.waitFor(5)
		if got := testutil.IDOf(msgs[0].record); got != testutil.RecordID(5) {
			t.Fatalf("first message after reconnecting carries %s, want rec-5", got)
		}
	})
}

func TestWriteRejectsRecordsThatCannotBeSent(t *testing.T) {
	tests := []struct {
		transport string
		spoil     func(*analytics.Record)
		want      string
	}{
		{"tcp", func(r *analytics.Record) { r.ExpireAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "encode record as JSON"},
		{"udp", func(r *analytics.Record) { r.Policies = strings.Repeat("p", 70000) }, "does not fit in one udp datagram"},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			rcv := startReceiver(t, tt.transport, "rfc5424", "octet-counting")
			s := newSink(t, pumps.Meta{"transport": tt.transport, "network_addr": rcv.addr})
			batch := seeded(0, 5)
			tt.spoil(&batch[2])
			err := testutil.Write(t, s, batch)
			var rej *pumps.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("Write = %v, want a *pumps.RejectedError", err)
			}
			if len(rej.Rejections) != 1 || rej.Rejections[0].Index != 2 || !strings.Contains(rej.Rejections[0].Err.Error(), tt.want) {
				t.Fatalf("rejections %+v, want record 2 only, saying %q", rej.Rejections, tt.want)
			}
			msgs := rcv.waitFor(4)
			for i, m := range msgs {
				want := []string{"rec-0", "rec-1", "rec-3", "rec-4"}[i]
				if testutil.IDOf(m.record) != want {
					t.Fatalf("message %d carries %s, want %s", i, testutil.IDOf(m.record), want)
				}
			}
		})
	}
}

func TestInitFailsOnAnUntrustedCertificate(t *testing.T) {
	rcv := startReceiver(t, "tls", "rfc5424", "octet-counting")
	s := New()
	if err := s.Configure(pumps.Meta{"transport": "tls", "network_addr": rcv.addr}); err != nil {
		t.Fatal(err)
	}
	err := s.Init(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Init against a self-signed certificate = %v, want a certificate error", err)
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, transport := range []string{"tcp", "unix", "udp"} {
		b.Run(transport, func(b *testing.B) {
			rcv := startReceiver(b, transport, "rfc5424", "octet-counting")
			s := newSink(b, pumps.Meta{"transport": transport, "network_addr": rcv.addr})
			testutil.BenchmarkWrites(b, s, seeded(0, 1000))
		})
	}
}

func TestEndToEndThroughTheDaemon(t *testing.T) {
	testutil.NeedsBinary(t)
	for _, transport := range []string{"tcp", "udp", "unixgram"} {
		t.Run(transport, func(t *testing.T) {
			rcv := startReceiver(t, transport, "rfc5424", "octet-counting")
			n := 5000
			if transport == "udp" {
				// UDP has no backpressure: the kernel drops what overflows the
				// receiver's buffer and the sender never knows (the README says
				// so). Send a burst that fits the buffer even if the reader is
				// not scheduled at all, so the test checks the pump, not the
				// scheduler.
				n = min(n, rcv.datagramCapacity()-len(testutil.GoldenExpected(t)))
			}
			r := testutil.StartRedis(t)
			testutil.PushGolden(t, r)
			testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, n)
			d := testutil.WriteConfig(t, r.Port, fmt.Sprintf(
				"  logs:\n    type: syslog\n    meta: {transport: %s, network_addr: %q, facility: local3, tag: iam-pump}\n", transport, rcv.addr), "")
			p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
			msgs := rcv.waitFor(n + 3)
			p.Signal(syscall.SIGTERM)
			if code := p.Wait(time.Minute); code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			want := testutil.GoldenExpected(t)
			for i := range want {
				if !testutil.SameRecord(msgs[i].record, want[i]) {
					t.Errorf("golden record %d arrived as %+v, want %+v", i, msgs[i].record, want[i])
				}
			}
			var ids []string
			for _, m := range msgs[3:] {
				if m.priority != 19*8+6 || m.header[3] != "iam-pump" {
					t.Fatalf("message with PRI %d and APP-NAME %q, want local3.info (158) and iam-pump", m.priority, m.header[3])
				}
				ids = append(ids, testutil.IDOf(m.record))
			}
			acc := testutil.Tally(ids, 0, n)
			if len(acc.Missing) > 0 || acc.Duplicates > 0 {
				t.Fatalf("%d records missing (first %v), %d duplicated", len(acc.Missing), acc.Missing[:min(5, len(acc.Missing))], acc.Duplicates)
			}
		})
	}
}

func TestValidateNamesTheBadKey(t *testing.T) {
	testutil.NeedsBinary(t)
	tests := []struct {
		meta, want string
	}{
		{"{transport: tcp, network_addr: nowhere}", `pumps.logs.meta.network_addr: want host:port for transport tcp, got "nowhere"`},
		{"{transport: smoke}", `pumps.logs.meta.transport: want udp, tcp, tls, unix or unixgram, got "smoke"`},
		{"{facility: local9}", `pumps.logs.meta.facility: want one of kern,`},
		{"{tagg: x}", `pumps.logs.meta.tagg: unknown key (did you mean "tag"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.meta, func(t *testing.T) {
			testutil.ValidateRejects(t, "  logs:\n    type: syslog\n    meta: "+tt.meta+"\n", tt.want)
		})
	}
}

func TestInitWarnsThatUDPCannotConfirmDelivery(t *testing.T) {
	for _, tc := range []struct {
		transport string
		warns     bool
	}{
		{"udp", true},
		{"tcp", false},
		{"unixgram", false},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			rcv := startReceiver(t, tc.transport, "rfc5424", "octet-counting")
			var logged bytes.Buffer
			s := New()
			s.Log = slog.New(slog.NewTextHandler(&logged, nil))
			testutil.StartSink(t, s, pumps.Meta{"transport": tc.transport, "network_addr": rcv.addr})
			warned := strings.Contains(logged.String(), "level=WARN") &&
				strings.Contains(logged.String(), "cannot confirm delivery") && strings.Contains(logged.String(), rcv.addr)
			if warned != tc.warns {
				t.Fatalf("transport %s: warned = %v, want %v; logged:\n%s", tc.transport, warned, tc.warns, logged.String())
			}
		})
	}
}
