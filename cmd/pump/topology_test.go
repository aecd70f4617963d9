//go:build linux

package main

// The Redis topologies beyond one plain server, each against real
// redis-server processes and the real binary: a three-master cluster, a
// master and replica behind a sentinel (with a failover mid-drain), TLS
// with a CA of the test's own, and an ACL user.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/storage"
)

// topoJSONL is a pumps section with one jsonl pump writing to path.
func topoJSONL(path string) string {
	return "  j:\n    type: jsonl\n    meta: {path: " + path + "}\n"
}

// topoReady GETs the readiness probe: the status and the body (0 and the
// error when unreachable).
func topoReady(d testutil.Daemon) (int, string) {
	resp, err := http.Get(d.ReadyURL())
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// topoLen is LLEN through any client (cluster, sentinel, TLS, ACL).
func topoLen(t *testing.T, c redis.UniversalClient, list string) int64 {
	t.Helper()
	n, err := c.LLen(ctx, list).Result()
	if err != nil {
		t.Fatalf("LLEN %s: %v", list, err)
	}
	return n
}

// topoExactlyOnce checks that out holds records from..to-1, each once.
func topoExactlyOnce(t *testing.T, out string, from, to int) {
	t.Helper()
	got := ids(testutil.ReadJSONLines(t, out))
	acc := testutil.Tally(got, from, to)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 || len(got) != to-from {
		t.Fatalf("%s: %d records, want %d: %d missing (first %v), %d duplicated",
			out, len(got), to-from, len(acc.Missing), first(acc.Missing), acc.Duplicates)
	}
}

// topoDeadLetters checks the dead-letter list holds exactly want, each an
// envelope with the original bytes.
func topoDeadLetters(t *testing.T, c redis.UniversalClient, want ...[]byte) {
	t.Helper()
	dead, err := c.LRange(ctx, "{"+key+"}.dead", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(want))
	}
	for i, e := range dead {
		env, err := pump.DecodeDeadLetter([]byte(e))
		if err != nil {
			t.Fatalf("dead letter %d is not an envelope: %v", i, err)
		}
		if string(env.Raw) != string(want[i]) || !strings.Contains(env.Reason, "malformed analytics record") || env.Key != key {
			t.Errorf("dead letter %d = %+v, want the raw bytes %q", i, env, want[i])
		}
	}
}

// topoStop sends SIGTERM and wants exit status 0.
func topoStop(t *testing.T, p *testutil.Proc) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
}

// topoUnreachable waits until the pump says Redis is unreachable and its
// readiness probe says so too, and checks the log names the cause.
func topoUnreachable(t *testing.T, p *testutil.Proc, d testutil.Daemon, cause string) {
	t.Helper()
	p.WaitOutput(30*time.Second, "redis unreachable")
	var code int
	var body string
	testutil.Eventually(t, 10*time.Second, "/readyz answering 503 for Redis", func() bool {
		code, body = topoReady(d)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "redis unreachable")
	})
	// The first line may name a timeout (a loaded machine); the real cause
	// follows as soon as an attempt gets that far.
	testutil.Eventually(t, time.Minute, "the log naming the cause "+cause, func() bool {
		return strings.Contains(p.Output(), cause)
	})
	for _, line := range strings.Split(p.Output(), "\n") {
		if strings.Contains(line, "redis unreachable") {
			t.Logf("the pump says: %s", line)
			break
		}
	}
}

func TestTopologyClusterDrainsWithEveryKeyInTheListsSlot(t *testing.T) {
	testutil.NeedsBinary(t)
	c := testutil.StartRedisCluster(t, 3)
	// The pump's own cluster client (go-redis's ClusterClient, set up as
	// the pump sets it up).
	cc, err := storage.NewClient(storage.Options{Cluster: true, Addrs: c.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	const n = 6000
	poison := []byte("poison in a cluster \xff\x00")
	testutil.Seed(t, cc, key, 0, n/2)
	if err := cc.RPush(ctx, key, poison).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.Seed(t, cc, key, n/2, n)

	slot := c.KeySlot(key)
	owner := c.SlotOwner(slot)
	t.Logf("the list is in slot %d on %s", slot, owner)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteRedisConfig(t,
		"  enable-cluster: true\n  addrs: ["+strings.Join(c.Addrs, ", ")+"]\n",
		topoJSONL(out), "batch-size: 500\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(30*time.Second, "holding the drain lease")
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return topoLen(t, cc, key) == 0 })
	if code, body := topoReady(d); code != http.StatusOK {
		t.Errorf("/readyz = %d %q while draining a cluster, want 200", code, body)
	}

	// Every key of ours is in the list's slot, on the node that serves it,
	// and no other node holds anything.
	for _, suffix := range []string{"lease", "dead", "trimmed", "parked.j"} {
		k := "{" + key + "}." + suffix
		if s := c.KeySlot(k); s != slot {
			t.Errorf("%s hashes to slot %d, the list to %d", k, s, slot)
		}
	}
	for _, addr := range c.Addrs {
		keys := c.NodeKeys(addr)
		if addr != owner {
			if len(keys) > 0 {
				t.Errorf("node %s, which does not serve the list's slot, holds %v", addr, keys)
			}
			continue
		}
		// (The trim mark lapses with the lease TTL after the last trim.)
		for _, want := range []string{"{" + key + "}.lease", "{" + key + "}.dead"} {
			if !slices.Contains(keys, want) {
				t.Errorf("node %s serving the list's slot holds %v, not %s", addr, keys, want)
			}
		}
		for _, k := range keys {
			if s := c.KeySlot(k); s != slot {
				t.Errorf("%s on %s is in slot %d, not the list's %d", k, addr, s, slot)
			}
		}
	}
	// Every keyed command went straight to that node: none was sent
	// elsewhere and redirected (go-redis routes by the command table it
	// reads from the cluster; without it, it picks nodes at random).
	for _, addr := range c.Addrs {
		stats := c.Info(addr, "commandstats") + c.Info(addr, "errorstats")
		if strings.Contains(stats, "errorstat_MOVED") || strings.Contains(stats, "errorstat_ASK") {
			t.Errorf("node %s redirected commands:\n%s", addr, stats)
		}
		if addr == owner {
			continue
		}
		for _, cmd := range []string{"lrange", "llen", "rpush", "evalsha", "eval", "get"} {
			if strings.Contains(stats, "cmdstat_"+cmd+":") {
				t.Errorf("node %s, which does not serve the list's slot, got %s:\n%s", addr, strings.ToUpper(cmd), stats)
			}
		}
	}
	topoStop(t, p)
	if strings.Contains(p.Output(), "info for cmd") || strings.Contains(p.Output(), "elements in") {
		t.Errorf("go-redis could not read the cluster's replies:\n%s", p.Output())
	}
	topoExactlyOnce(t, out, 0, n)
	topoDeadLetters(t, cc, poison)
	if holder, err := cc.Get(ctx, "{"+key+"}.lease").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("lease still held after a clean stop: %q %v", holder, err)
	}

	// The dead-letter tools work on a cluster too: a replay moves the
	// undecodable letter back to the main list in one two-key script.
	code, msg := testutil.RunPump(t, nil, "dlq", "list", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(msg, "malformed analytics record") {
		t.Fatalf("dlq list on a cluster: exit %d\n%s", code, msg)
	}
	code, msg = testutil.RunPump(t, nil, "dlq", "replay", "--include-undecodable", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(msg, "moved 1") {
		t.Fatalf("dlq replay on a cluster: exit %d\n%s", code, msg)
	}
	if back, err := cc.LRange(ctx, key, 0, -1).Result(); err != nil || len(back) != 1 || back[0] != string(poison) {
		t.Fatalf("after the replay the list holds %q (%v), want the poison element", back, err)
	}
	if n := topoLen(t, cc, "{"+key+"}.dead"); n != 0 {
		t.Fatalf("%d dead letters after the replay, want 0", n)
	}
}

func TestTopologySentinelDrainsAndFollowsAFailover(t *testing.T) {
	testutil.NeedsBinary(t)
	s := testutil.StartSentinel(t, "mymaster")
	c := s.Client()
	poison := []byte("poison behind a sentinel \xff")
	testutil.Seed(t, c, key, 0, 1000)
	if err := c.RPush(ctx, key, poison).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.Seed(t, c, key, 1000, 2000)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	// A slow sink, so the master dies with a backlog left.
	d := testutil.WriteRedisConfig(t, "  master-name: mymaster\n  addrs: ["+s.Sentinel.Addr+"]\n",
		"  j:\n    type: faulty\n    meta: {path: "+out+", delay: 40ms}\n", "batch-size: 100\nread-ahead: 2\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return topoLen(t, c, key) == 0 })
	if code, body := topoReady(d); code != http.StatusOK {
		t.Errorf("/readyz = %d %q behind a sentinel, want 200", code, body)
	}
	topoExactlyOnce(t, out, 0, 2000)
	topoDeadLetters(t, c, poison)

	// The master dies with a backlog being drained; the sentinel promotes
	// the replica and the pump goes on there.
	const total = 8000
	testutil.Seed(t, c, key, 2000, total)
	if got, err := c.Do(ctx, "wait", 1, 5000).Int(); err != nil || got != 1 {
		t.Fatalf("WAIT for the replica: %d %v", got, err)
	}
	testutil.Eventually(t, time.Minute, "part of the new backlog written", func() bool {
		return testutil.CountLines(t, out) >= 2500
	})
	old := s.Master.Addr
	s.Master.Kill()
	replica := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer replica.Close()
	if left := topoLen(t, replica, key); left == 0 {
		t.Fatal("the backlog drained before the master died: the test proves nothing; slow the sink")
	} else {
		t.Logf("the master died with %d records left", left)
	}
	testutil.Eventually(t, time.Minute, "the sentinel promoting the replica", func() bool {
		return s.MasterAddr() == s.Replica.Addr
	})
	t.Logf("failed over from %s to %s with %d records written", old, s.Replica.Addr, testutil.CountLines(t, out))
	testutil.Eventually(t, 2*time.Minute, "the backlog drained from the new master", func() bool {
		n, err := c.LLen(ctx, key).Result()
		return err == nil && n == 0
	})
	testutil.Eventually(t, 30*time.Second, "/readyz 200 again", func() bool {
		code, _ := topoReady(d)
		return code == http.StatusOK
	})
	topoStop(t, p)
	// At-least-once across the failover: a trim the replica had not
	// received when the master died is done again, so records may be
	// written twice; none may be missing.
	got := ids(testutil.ReadJSONLines(t, out))
	acc := testutil.Tally(got, 0, total)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d records missing after the failover (first %v)", len(acc.Missing), first(acc.Missing))
	}
	t.Logf("%d records written, %d of them again after the failover", len(got), acc.Duplicates)
}

// topoTLSClient is a client of the TLS server trusting the test's CA.
func topoTLSClient(t *testing.T, addr string, files testutil.TLSFiles) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: files.ClientConfig(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTopologyTLS(t *testing.T) {
	testutil.NeedsBinary(t)
	if ok, said := testutil.RedisHasTLS(t); !ok {
		t.Fatalf("this redis-server is built without TLS (it does not know tls-port), so the TLS "+
			"connection cannot be tested; install a build with TLS (Debian's redis-server has it):\n%s", said)
	}
	files := testutil.WriteTLSFiles(t)
	srv := testutil.StartRedisProcess(t, testutil.ProcessOptions{
		Name: "TLS redis-server", TLS: true, Args: files.Args(),
		Ready: func(ctx context.Context, addr string) error {
			c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: files.ClientConfig(t), MaxRetries: -1})
			defer c.Close()
			return c.Ping(ctx).Err()
		},
	})
	c := topoTLSClient(t, srv.Addr, files)
	base := "  host: 127.0.0.1\n  port: " + strconv.Itoa(srv.Port) + "\n  use-ssl: true\n"

	t.Run("the CA in ssl-ca-file", func(t *testing.T) {
		poison := []byte("poison over TLS \xff")
		testutil.Seed(t, c, key, 0, 1000)
		if err := c.RPush(ctx, key, poison).Err(); err != nil {
			t.Fatal(err)
		}
		testutil.Seed(t, c, key, 1000, 2000)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, base+"  ssl-ca-file: "+files.CA+"\n", topoJSONL(out), "")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		testutil.Eventually(t, time.Minute, "the list drained", func() bool { return topoLen(t, c, key) == 0 })
		if code, body := topoReady(d); code != http.StatusOK {
			t.Errorf("/readyz = %d %q over TLS, want 200", code, body)
		}
		topoStop(t, p)
		topoExactlyOnce(t, out, 0, 2000)
		topoDeadLetters(t, c, poison)
		if err := c.Del(ctx, "{"+key+"}.dead").Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an unknown CA without skip-verify is refused", func(t *testing.T) {
		testutil.Seed(t, c, key, 2000, 2500)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, base, topoJSONL(out), "")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		topoUnreachable(t, p, d, "certificate signed by unknown authority")
		topoStop(t, p)
		if n := topoLen(t, c, key); n != 500 {
			t.Fatalf("%d records in Redis, want all 500 untouched", n)
		}
		if got := testutil.ReadJSONLines(t, out); len(got) != 0 {
			t.Fatalf("%d records written without a trusted connection", len(got))
		}
	})

	t.Run("ssl-insecure-skip-verify", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, base+"  ssl-insecure-skip-verify: true\n", topoJSONL(out), "")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		testutil.Eventually(t, time.Minute, "the list drained", func() bool { return topoLen(t, c, key) == 0 })
		if code, body := topoReady(d); code != http.StatusOK {
			t.Errorf("/readyz = %d %q with skip-verify, want 200", code, body)
		}
		topoStop(t, p)
		topoExactlyOnce(t, out, 2000, 2500)
	})

	t.Run("plain text to the TLS port is refused", func(t *testing.T) {
		testutil.Seed(t, c, key, 2500, 2600)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, "  host: 127.0.0.1\n  port: "+strconv.Itoa(srv.Port)+"\n", topoJSONL(out), "")
		p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
		topoUnreachable(t, p, d, "redis unreachable")
		topoStop(t, p)
		if n := topoLen(t, c, key); n != 100 {
			t.Fatalf("%d records in Redis, want all 100 untouched", n)
		}
	})
}

func TestTopologyACLUser(t *testing.T) {
	testutil.NeedsBinary(t)
	const password = "acl-Pa55-for-pumpuser-7d1e"
	srv := testutil.StartRedisProcess(t, testutil.ProcessOptions{
		Name: "ACL redis-server",
		Args: []string{"--user", "default", "off", "--user", "pumpuser", "on", ">" + password, "~*", "&*", "+@all"},
		Ready: func(ctx context.Context, addr string) error {
			c := redis.NewClient(&redis.Options{Addr: addr, Username: "pumpuser", Password: password, MaxRetries: -1})
			defer c.Close()
			return c.Ping(ctx).Err()
		},
	})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "pumpuser", Password: password})
	t.Cleanup(func() { _ = c.Close() })
	// The default user is off: without the user name nothing gets in.
	anon := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without credentials: %v, want NOAUTH", err)
	}
	env := []string{"IAM_PUMP_REDIS_PASSWORD=" + password}
	base := "  host: 127.0.0.1\n  port: " + strconv.Itoa(srv.Port) + "\n"

	t.Run("username and password", func(t *testing.T) {
		poison := []byte("poison for an ACL user \xff")
		testutil.Seed(t, c, key, 0, 1000)
		if err := c.RPush(ctx, key, poison).Err(); err != nil {
			t.Fatal(err)
		}
		testutil.Seed(t, c, key, 1000, 2000)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, base+"  username: pumpuser\n", topoJSONL(out), "")
		p := testutil.StartPump(t, env, "-c", d.ConfigPath)
		testutil.Eventually(t, time.Minute, "the list drained", func() bool { return topoLen(t, c, key) == 0 })
		if code, body := topoReady(d); code != http.StatusOK {
			t.Errorf("/readyz = %d %q as an ACL user, want 200", code, body)
		}
		topoStop(t, p)
		topoExactlyOnce(t, out, 0, 2000)
		topoDeadLetters(t, c, poison)
		if strings.Contains(p.Output(), password) {
			t.Fatal("the password reached the log")
		}
		if err := c.Del(ctx, "{"+key+"}.dead").Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the password alone is the disabled default user", func(t *testing.T) {
		testutil.Seed(t, c, key, 2000, 2100)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		d := testutil.WriteRedisConfig(t, base, topoJSONL(out), "")
		p := testutil.StartPump(t, env, "-c", d.ConfigPath)
		redisRefused(t, p, d, "redis refused the credentials (NOAUTH, WRONGPASS or NOPERM", "redis refused the credentials", "WRONGPASS")
		topoStop(t, p)
		if n := topoLen(t, c, key); n != 100 {
			t.Fatalf("%d records in Redis, want all 100 untouched", n)
		}
		if strings.Contains(p.Output(), password) {
			t.Fatal("the password reached the log")
		}
	})
}
