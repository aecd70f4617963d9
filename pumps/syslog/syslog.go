package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "syslog",
		Description: "each record as a JSON syslog message (RFC 5424 or 3164) over udp, tcp, tls or a unix socket",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Syslog).cfg },
	})
}

// New returns an unconfigured syslog sink with the defaults in place.
func New() *Syslog {
	return &Syslog{cfg: Config{
		Transport:   "udp",
		NetworkAddr: "localhost:5140",
		LogLevel:    -1,
		Tag:         "syslog-pump",
		Format:      "rfc5424",
		Framing:     "octet-counting",
	}}
}

// Config is the syslog pump's meta. transport, network_addr, log_level and
// tag are iam's keys and mean what they meant there.
type Config struct {
	// Transport is udp, tcp, tls, unix (a stream socket) or unixgram (a
	// datagram socket, such as /dev/log).
	Transport string `yaml:"transport" help:"udp, tcp, tls, unix (stream socket) or unixgram (datagram socket, such as /dev/log)"`
	// NetworkAddr is host:port, or the socket's path for unix transports.
	NetworkAddr string `yaml:"network_addr" help:"host:port, or the socket's path for unix and unixgram"`
	// LogLevel is iam's: the whole syslog priority, facility*8 + severity
	// (6 is kern.info, 134 local0.info). -1 (unset) means user.info.
	LogLevel int `yaml:"log_level" help:"iam's key: the whole priority, facility×8 + severity (134 is local0.info). iam's default, 0, is kern.emerg; ours, when the key is absent, is user.info"`
	// Facility and Severity override the two halves of LogLevel, by name
	// (local0, info) or number.
	Facility string `yaml:"facility" help:"name (local0, auth, ...) or number 0–23; overrides log_level's facility"`
	Severity string `yaml:"severity" help:"name (info, warning, err, ...) or number 0–7; overrides log_level's severity"`
	// Tag is the APP-NAME (RFC 5424) or TAG (RFC 3164).
	Tag string `yaml:"tag" help:"APP-NAME (RFC 5424) or TAG (RFC 3164); 1–48 printable characters"`
	// Hostname is the HOSTNAME field; the machine's name when empty.
	Hostname string `yaml:"hostname" help:"the HOSTNAME field"`
	// Format is rfc5424 or rfc3164.
	Format string `yaml:"format" help:"rfc5424, or rfc3164 (<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG)"`
	// Framing applies to stream transports (tcp, tls, unix): octet-counting
	// (RFC 6587 3.4.1) or non-transparent (a newline after each message).
	Framing string `yaml:"framing" help:"stream transports: octet-counting (RFC 6587 3.4.1, LEN SP MSG) or non-transparent (a newline after each message)"`

	TLSCAFile             string `yaml:"tls_ca_file" help:"PEM file of the CAs that may sign the receiver's certificate"`
	TLSCertFile           string `yaml:"tls_cert_file" help:"client certificate, for receivers that ask for one"`
	TLSKeyFile            string `yaml:"tls_key_file" help:"client certificate, for receivers that ask for one"`
	TLSServerName         string `yaml:"tls_server_name" help:"name checked against the receiver's certificate"`
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify" help:"do not check the receiver's certificate"`
}

// Syslog writes records to a syslog receiver, one message per record.
type Syslog struct {
	cfg      Config
	priority int
	stream   bool
	hostname string
	pid      string
	tlsConf  *tls.Config

	// Log receives the start-up warning about udp. slog.Default() unless set.
	Log *slog.Logger

	mu   sync.Mutex
	conn net.Conn
	w    *bufio.Writer
	msg  bytes.Buffer
	json []byte // the record as JSON, reused
	head []byte
}

var facilities = []string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// severityAliases are the other names syslog.conf accepts.
var severityAliases = map[string]int{"panic": 0, "critical": 2, "error": 3, "warn": 4, "informational": 6}

// Configure implements pumps.Sink.
func (s *Syslog) Configure(meta pumps.Meta) error {
	c := &s.cfg
	if err := pumps.DecodeMeta(meta, c); err != nil {
		return err
	}
	c.Transport = strings.ToLower(c.Transport)
	switch c.Transport {
	case "udp", "tcp", "tls":
		if _, _, err := net.SplitHostPort(c.NetworkAddr); err != nil {
			return fmt.Errorf("meta.network_addr: want host:port for transport %s, got %q", c.Transport, c.NetworkAddr)
		}
	case "unix", "unixgram":
		if c.NetworkAddr == "" || c.NetworkAddr == "localhost:5140" {
			return fmt.Errorf("meta.network_addr: want the socket's path for transport %s, such as /dev/log", c.Transport)
		}
	default:
		return fmt.Errorf("meta.transport: want udp, tcp, tls, unix or unixgram, got %q", c.Transport)
	}
	s.stream = c.Transport == "tcp" || c.Transport == "tls" || c.Transport == "unix"

	facility, severity := 1, 6 // user.info
	if c.LogLevel != -1 {
		if c.LogLevel < 0 || c.LogLevel > 23*8+7 {
			return fmt.Errorf("meta.log_level: want a syslog priority from 0 to 191 (facility*8 + severity), got %d", c.LogLevel)
		}
		facility, severity = c.LogLevel/8, c.LogLevel%8
	}
	if c.Facility != "" {
		f, err := lookup(c.Facility, facilities, nil)
		if err != nil {
			return fmt.Errorf("meta.facility: %w", err)
		}
		facility = f
	}
	if c.Severity != "" {
		v, err := lookup(c.Severity, severities, severityAliases)
		if err != nil {
			return fmt.Errorf("meta.severity: %w", err)
		}
		severity = v
	}
	s.priority = facility*8 + severity

	if c.Tag == "" || len(c.Tag) > 48 || !printable(c.Tag) {
		return fmt.Errorf("meta.tag: want 1 to 48 printable ASCII characters without spaces, got %q", c.Tag)
	}
	if c.Hostname != "" && (len(c.Hostname) > 255 || !printable(c.Hostname)) {
		return fmt.Errorf("meta.hostname: want up to 255 printable ASCII characters without spaces, got %q", c.Hostname)
	}
	c.Format = strings.ToLower(c.Format)
	if c.Format != "rfc5424" && c.Format != "rfc3164" {
		return fmt.Errorf("meta.format: want rfc5424 or rfc3164, got %q", c.Format)
	}
	c.Framing = strings.ToLower(c.Framing)
	if c.Framing != "octet-counting" && c.Framing != "non-transparent" {
		return fmt.Errorf("meta.framing: want octet-counting or non-transparent, got %q", c.Framing)
	}
	tlsSet := c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify
	if tlsSet && c.Transport != "tls" {
		return fmt.Errorf("meta.transport: the tls_* keys need transport tls, got %q", c.Transport)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("meta.tls_cert_file: tls_cert_file and tls_key_file go together")
	}
	return nil
}

// lookup resolves a facility or severity given by name or number.
func lookup(v string, names []string, aliases map[string]int) (int, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n >= len(names) {
			return 0, fmt.Errorf("want a name or a number from 0 to %d, got %d", len(names)-1, n)
		}
		return n, nil
	}
	for i, name := range names {
		if name == v {
			return i, nil
		}
	}
	if n, ok := aliases[v]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("want one of %s or a number, got %q", strings.Join(names, ", "), v)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// Init implements pumps.Sink. It reads the TLS files and dials, so a wrong
// address or certificate shows at start-up. Should the connection break
// later, Write dials again.
func (s *Syslog) Init(ctx context.Context) error {
	s.hostname = s.cfg.Hostname
	if s.hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" || !printable(h) {
			h = "-"
		}
		s.hostname = h
	}
	s.pid = strconv.Itoa(os.Getpid())
	if s.cfg.Transport == "udp" {
		log := s.Log
		if log == nil {
			log = slog.Default()
		}
		// iam's default, kept for compatibility; the operator should know
		// what it costs.
		log.Warn("transport udp cannot confirm delivery: a datagram the network or a full receiver drops is lost without an error; use tcp or tls for zero loss",
			"sink", "syslog", "network_addr", s.cfg.NetworkAddr)
	}
	if s.cfg.Transport == "tls" {
		conf, err := s.tlsConfig()
		if err != nil {
			return pumps.Permanent(fmt.Errorf("syslog: %w", err))
		}
		s.tlsConf = conf
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dial(ctx); err != nil {
		return err
	}
	return nil
}

func (s *Syslog) tlsConfig() (*tls.Config, error) {
	c := &s.cfg
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // the user asked for it
	}
	if conf.ServerName == "" {
		conf.ServerName, _, _ = net.SplitHostPort(c.NetworkAddr)
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file %s holds no PEM certificate", c.TLSCAFile)
		}
		conf.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls_cert_file and tls_key_file: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

const dialTimeout = 10 * time.Second

// dial connects; s.mu is held.
func (s *Syslog) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var (
		conn net.Conn
		err  error
	)
	switch s.cfg.Transport {
	case "tls":
		d := &tls.Dialer{Config: s.tlsConf}
		conn, err = d.DialContext(ctx, "tcp", s.cfg.NetworkAddr)
	default:
		var d net.Dialer
		conn, err = d.DialContext(ctx, s.cfg.Transport, s.cfg.NetworkAddr)
	}
	if err != nil {
		return fmt.Errorf("syslog: connect to %s over %s: %w", s.cfg.NetworkAddr, s.cfg.Transport, err)
	}
	s.conn = conn
	if s.stream {
		if s.w == nil {
			s.w = bufio.NewWriterSize(conn, 64<<10)
		} else {
			s.w.Reset(conn)
		}
	}
	return nil
}

// drop closes a broken connection so the next write dials again.
func (s *Syslog) drop() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// Write implements pumps.Sink. Each record becomes one message; on a stream
// the batch is flushed before Write returns. A broken connection is closed
// and reported as a transient error; the next Write dials again.
func (s *Syslog) Write(ctx context.Context, batch []analytics.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.stream && peerClosed(s.conn) {
		s.drop()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		s.drop()
		return fmt.Errorf("syslog: %w", err)
	}
	var rejected []pumps.Rejection
	for i := range batch {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("syslog: %d of %d records written: %w", i, len(batch), err)
		}
		msg, err := s.format(&batch[i])
		if err != nil {
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("syslog: %w", err)})
			continue
		}
		if s.stream {
			err = s.writeFrame(msg)
		} else {
			_, err = s.conn.Write(msg)
			if errors.Is(err, syscall.EMSGSIZE) {
				rejected = append(rejected, pumps.Rejection{Index: i,
					Err: fmt.Errorf("syslog: a %d-byte message does not fit in one %s datagram", len(msg), s.cfg.Transport)})
				continue
			}
		}
		if err != nil {
			s.drop()
			return fmt.Errorf("syslog: write to %s: %w", s.cfg.NetworkAddr, err)
		}
	}
	if s.stream {
		if err := s.w.Flush(); err != nil {
			s.drop()
			return fmt.Errorf("syslog: write to %s: %w", s.cfg.NetworkAddr, err)
		}
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

func (s *Syslog) writeFrame(msg []byte) error {
	if s.cfg.Framing == "octet-counting" {
		var n [20]byte
		if _, err := s.w.Write(strconv.AppendInt(n[:0], int64(len(msg)), 10)); err != nil {
			return err
		}
		if err := s.w.WriteByte(' '); err != nil {
			return err
		}
		_, err := s.w.Write(msg)
		return err
	}
	if _, err := s.w.Write(msg); err != nil {
		return err
	}
	return s.w.WriteByte('\n')
}

// format renders one message: the header, then the record as JSON with
// iam's field names. The result is valid until the next call.
func (s *Syslog) format(r *analytics.Record) ([]byte, error) {
	h := s.head[:0]
	h = append(h, '<')
	h = strconv.AppendInt(h, int64(s.priority), 10)
	h = append(h, '>')
	if s.cfg.Format == "rfc5424" {
		// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
		h = append(h, "1 "...)
		if r.TimeStamp != 0 {
			h = time.Unix(r.TimeStamp, 0).UTC().AppendFormat(h, time.RFC3339)
		} else {
			h = append(h, '-')
		}
		h = append(h, ' ')
		h = append(h, s.hostname...)
		h = append(h, ' ')
		h = append(h, s.cfg.Tag...)
		h = append(h, ' ')
		h = append(h, s.pid...)
		h = append(h, " - - "...)
	} else {
		// <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG
		t := time.Now()
		if r.TimeStamp != 0 {
			t = time.Unix(r.TimeStamp, 0)
		}
		h = t.AppendFormat(h, time.Stamp)
		h = append(h, ' ')
		h = append(h, s.hostname...)
		h = append(h, ' ')
		h = append(h, s.cfg.Tag...)
		h = append(h, '[')
		h = append(h, s.pid...)
		h = append(h, "]: "...)
	}
	s.head = h
	s.msg.Reset()
	s.msg.Write(h)
	var err error
	if s.json, err = analytics.AppendJSON(s.json[:0], r); err != nil {
		return nil, fmt.Errorf("encode record as JSON: %w", err)
	}
	s.msg.Write(s.json)
	return s.msg.Bytes(), nil
}

// Close implements pumps.Sink. Every batch is already flushed when Write
// returns, so Close only hangs up.
func (s *Syslog) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	var err error
	if s.stream {
		err = s.w.Flush()
	}
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	s.conn = nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("syslog: close connection to %s: %w", s.cfg.NetworkAddr, err)
	}
	return nil
}

// WritesRecordJSON marks the sink as a pumps.JSONWriter: it writes each
// record as analytics.AppendJSON encodes it.
func (s *Syslog) WritesRecordJSON() {}

var (
	_ pumps.Sink       = (*Syslog)(nil)
	_ pumps.JSONWriter = (*Syslog)(nil)
)
