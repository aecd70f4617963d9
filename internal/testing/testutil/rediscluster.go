package testutil

// Redis topologies beyond one plain server: a cluster of masters, a master
// with a replica watched by a sentinel, a TLS-only server and a server with
// ACL users. Every process is a real redis-server on free loopback ports,
// killed when the test ends.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ProcessOptions describe one redis-server process.
type ProcessOptions struct {
	// Name labels the process in failure messages.
	Name string
	// Config, when set, is written to redis.conf in the process's directory
	// and passed as the configuration file (a sentinel needs a writable one).
	Config string
	// Sentinel runs the process as a sentinel.
	Sentinel bool
	// TLS serves TLS only: the port is the TLS port and the plain port is
	// off. Args must name the certificate files (see TLSFiles.Args).
	TLS bool
	// Args follow the standard arguments (port, loopback bind, directory,
	// log file, no persistence).
	Args []string
	// Ready returns nil once the process answers; by default a PING
	// without credentials over plain TCP.
	Ready func(ctx context.Context, addr string) error
}

// RedisProcess is a redis-server (or sentinel) process owned by one test.
type RedisProcess struct {
	Name string
	Addr string
	Port int
	Dir  string

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRedisProcess starts redis-server as o says on a free loopback port,
// waits until it answers and kills it when the test ends (its log is
// printed when the test failed).
func StartRedisProcess(t testing.TB, o ProcessOptions) *RedisProcess {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (make test installs it): %v", err)
	}
	if o.Name == "" {
		o.Name = "redis-server"
	}
	p := &RedisProcess{Name: o.Name, Dir: t.TempDir(), Port: FreePort(t), t: t}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	var args []string
	if o.Config != "" {
		conf := filepath.Join(p.Dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, conf)
	}
	if o.Sentinel {
		args = append(args, "--sentinel")
	}
	if o.TLS {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(p.Port))
	} else {
		args = append(args, "--port", strconv.Itoa(p.Port))
	}
	args = append(args, "--bind", "127.0.0.1", "--dir", p.Dir, "--daemonize", "no",
		"--logfile", filepath.Join(p.Dir, "redis.log"))
	if !o.Sentinel {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	args = append(args, o.Args...)
	p.cmd = exec.Command("redis-server", args...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.exited)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s on %s log:\n%s", p.Name, p.Addr, lastLines(p.Log(), 40))
		}
	})

	ready := o.Ready
	if ready == nil {
		ready = func(ctx context.Context, addr string) error {
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer c.Close()
			return c.Ping(ctx).Err()
		}
	}
	var last error
	t.Cleanup(func() {
		if last != nil && t.Failed() {
			t.Logf("%s: last readiness check: %v", p.Name, last)
		}
	})
	Eventually(t, 10*time.Second, p.Name+" answers on "+p.Addr, func() bool {
		if p.Exited() {
			t.Fatalf("%s exited at start-up; args %q; log:\n%s", p.Name, args, lastLines(p.Log(), 40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		last = ready(ctx, p.Addr)
		return last == nil
	})
	return p
}

// Exited reports whether the process has ended.
func (p *RedisProcess) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *RedisProcess) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Log returns what the process wrote to its log.
func (p *RedisProcess) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "redis.log"))
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// RedisCluster is a Redis Cluster of masters without replicas. It offers no
// cluster client: tests use the pump's (storage.NewClient).
type RedisCluster struct {
	Nodes []*RedisProcess
	// Addrs are the nodes' addresses, for a client's seed list; node i
	// serves the i-th equal share of the slots.
	Addrs []string

	t testing.TB
}

// StartRedisCluster starts masters cluster-enabled nodes, gives each an
// equal share of the 16384 slots, joins them with CLUSTER MEET and waits
// until every node reports cluster_state:ok and knows every other node.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	if masters < 1 {
		t.Fatal("a cluster needs at least one master")
	}
	c := &RedisCluster{t: t}
	var busPorts []int
	for i := 0; i < masters; i++ {
		// The bus port is set explicitly: the default (port + 10000) may
		// be taken or out of range.
		bus := FreePort(t)
		busPorts = append(busPorts, bus)
		node := StartRedisProcess(t, ProcessOptions{
			Name: fmt.Sprintf("cluster node %d", i),
			Args: []string{
				"--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"),
				"--cluster-node-timeout", "5000",
			},
		})
		c.Nodes = append(c.Nodes, node)
		c.Addrs = append(c.Addrs, node.Addr)
	}
	ctx := context.Background()
	for i, node := range c.Nodes {
		nc := redis.NewClient(&redis.Options{Addr: node.Addr})
		lo := i * ClusterSlots / masters
		hi := (i+1)*ClusterSlots/masters - 1
		// Distinct epochs spare the nodes a collision round, as redis-cli
		// --cluster create does.
		if err := nc.Do(ctx, "cluster", "set-config-epoch", i+1).Err(); err != nil {
			t.Fatalf("CLUSTER SET-CONFIG-EPOCH on %s: %v", node.Addr, err)
		}
		if err := nc.Do(ctx, "cluster", "addslotsrange", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, node.Addr, err)
		}
		if i > 0 {
			first := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr})
			err := first.Do(ctx, "cluster", "meet", "127.0.0.1", node.Port, busPorts[i]).Err()
			_ = first.Close()
			if err != nil {
				t.Fatalf("CLUSTER MEET %s: %v", node.Addr, err)
			}
		}
		_ = nc.Close()
	}
	for _, node := range c.Nodes {
		nc := redis.NewClient(&redis.Options{Addr: node.Addr})
		t.Cleanup(func() { _ = nc.Close() })
		Eventually(t, 30*time.Second, "cluster_state:ok on "+node.Addr, func() bool {
			info, _ := nc.ClusterInfo(ctx).Result()
			return strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r\n") &&
				strings.Contains(info, "cluster_slots_ok:"+strconv.Itoa(ClusterSlots)+"\r\n")
		})
	}
	return c
}

// KeySlot asks a node which slot key hashes to.
func (c *RedisCluster) KeySlot(key string) int {
	c.t.Helper()
	nc := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer nc.Close()
	n, err := nc.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		c.t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
	}
	return int(n)
}

// SlotOwner is the address of the node that serves slot.
func (c *RedisCluster) SlotOwner(slot int) string {
	n := len(c.Nodes)
	for i := range c.Nodes {
		if i*ClusterSlots/n <= slot && slot <= (i+1)*ClusterSlots/n-1 {
			return c.Addrs[i]
		}
	}
	c.t.Fatalf("slot %d is out of range", slot)
	return ""
}

// NodeKeys lists the keys stored on one node (SCAN on that node alone).
func (c *RedisCluster) NodeKeys(addr string) []string {
	c.t.Helper()
	nc := redis.NewClient(&redis.Options{Addr: addr})
	defer nc.Close()
	var keys []string
	iter := nc.Scan(context.Background(), 0, "*", 100).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		c.t.Fatalf("SCAN on %s: %v", addr, err)
	}
	return keys
}

// Info returns one section of INFO of the node at addr.
func (c *RedisCluster) Info(addr, section string) string {
	c.t.Helper()
	nc := redis.NewClient(&redis.Options{Addr: addr})
	defer nc.Close()
	info, err := nc.Info(context.Background(), section).Result()
	if err != nil {
		c.t.Fatalf("INFO %s on %s: %v", section, addr, err)
	}
	return info
}

// SentinelSet is a master, its replica and one sentinel monitoring them
// with quorum 1.
type SentinelSet struct {
	Master, Replica, Sentinel *RedisProcess
	// MasterName is the name the sentinel knows the master by.
	MasterName string

	t      testing.TB
	client *redis.Client
}

// StartSentinel starts a master, a replica of it in sync, and a sentinel
// monitoring the master as masterName, which fails over after two seconds
// without an answer. It returns once the sentinel knows the replica.
func StartSentinel(t testing.TB, masterName string) *SentinelSet {
	t.Helper()
	s := &SentinelSet{MasterName: masterName, t: t}
	s.Master = StartRedisProcess(t, ProcessOptions{Name: "sentinel's master"})
	s.Replica = StartRedisProcess(t, ProcessOptions{Name: "sentinel's replica",
		Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)}})
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer rc.Close()
	Eventually(t, 30*time.Second, "the replica in sync with the master", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 2000\n"+
		"sentinel failover-timeout %[1]s 10000\n"+
		"sentinel parallel-syncs %[1]s 1\n", masterName, s.Master.Port)
	s.Sentinel = StartRedisProcess(t, ProcessOptions{Name: "sentinel", Config: conf, Sentinel: true})
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr})
	defer sc.Close()
	Eventually(t, 30*time.Second, "the sentinel knows the replica", func() bool {
		replicas, err := sc.Replicas(ctx, masterName).Result()
		return err == nil && len(replicas) == 1 && replicas[0]["flags"] == "slave"
	})
	t.Cleanup(func() {
		if s.client != nil {
			_ = s.client.Close()
		}
	})
	return s
}

// Client returns a sentinel-aware client of the current master, shared by
// the test.
func (s *SentinelSet) Client() *redis.Client {
	if s.client == nil {
		s.client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.MasterName, SentinelAddrs: []string{s.Sentinel.Addr},
		})
	}
	return s.client
}

// MasterAddr asks the sentinel where the master is now.
func (s *SentinelSet) MasterAddr() string {
	s.t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(context.Background(), s.MasterName).Result()
	if err != nil || len(hp) != 2 {
		s.t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %v %v", s.MasterName, hp, err)
	}
	return net.JoinHostPort(hp[0], hp[1])
}

// TLSFiles are a CA and a server certificate for 127.0.0.1 and localhost
// signed by it, written as PEM files.
type TLSFiles struct {
	CA, Cert, Key string
}

// Args are redis-server's arguments serving these files, without client
// certificates.
func (f TLSFiles) Args() []string {
	return []string{"--tls-cert-file", f.Cert, "--tls-key-file", f.Key, "--tls-ca-cert-file", f.CA, "--tls-auth-clients", "no"}
}

// ClientConfig trusts the CA.
func (f TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	b, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", f.CA)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// WriteTLSFiles generates a fresh ECDSA CA and a server certificate for
// 127.0.0.1 and localhost, valid for a day, in a temp dir.
func WriteTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pump test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem")}
	writePEM(t, f.CA, "CERTIFICATE", caDER)
	writePEM(t, f.Cert, "CERTIFICATE", srvDER)
	writePEM(t, f.Key, "PRIVATE KEY", keyDER)
	return f
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// RedisHasTLS reports whether the installed redis-server was built with
// TLS, and what it said. A build without TLS does not know the tls-*
// directives: given tls-port and then a directive nobody knows, it
// complains about tls-port; a TLS build complains about the second one.
// Either way it exits at once without listening.
func RedisHasTLS(t testing.TB) (bool, string) {
	t.Helper()
	out, _ := exec.Command("redis-server", "--tls-port", "0", "--pump-probe-unknown-directive", "yes").CombinedOutput()
	s := string(out)
	switch {
	case strings.Contains(s, "'tls-port"):
		return false, s
	case strings.Contains(s, "'pump-probe-unknown-directive"):
		return true, s
	}
	t.Fatalf("cannot tell whether redis-server has TLS; it said:\n%s", s)
	return false, s
}

// WriteRedisConfig writes a pump configuration like WriteConfig with the
// given redis section (YAML indented by two spaces under "redis:") instead
// of a single host and port.
func WriteRedisConfig(t testing.TB, redisSection, pumps, extra string) Daemon {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	text := fmt.Sprintf(`purge-delay: 1
health-check-path: healthz
health-check-address: %s
lease-ttl: 2s
redis:
%s
log:
  level: info
  format: console
  output-paths: stderr
%s
pumps:
%s
`, addr, redisSection, extra, pumps)
	return Daemon{ConfigPath: WriteFile(t, "pump.yaml", text), HealthAddr: addr}
}
