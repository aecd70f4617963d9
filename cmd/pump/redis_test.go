//go:build linux

package main

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/storage"
)

func TestRedisOptionsMapIamsKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Redis
		want storage.Options
	}{
		{
			name: "host and port are the one server",
			cfg:  config.Redis{Host: "10.0.0.7", Port: 6380, Database: 3, Timeout: 2},
			want: storage.Options{Addrs: []string{"10.0.0.7:6380"}, DB: 3, Timeout: 2 * time.Second},
		},
		{
			name: "addrs win over host and port",
			cfg:  config.Redis{Host: "10.0.0.7", Port: 6380, Addrs: config.StringList{"a:1", "b:2"}, EnableCluster: true},
			want: storage.Options{Addrs: []string{"a:1", "b:2"}, Cluster: true},
		},
		{
			name: "sentinel with an ACL user",
			cfg:  config.Redis{Addrs: config.StringList{"s:26379"}, MasterName: "mymaster", Username: "u", Password: "p"},
			want: storage.Options{Addrs: []string{"s:26379"}, MasterName: "mymaster", Username: "u", Password: "p"},
		},
		{
			name: "iam's production pool values",
			cfg:  config.Redis{Host: "h", Port: 1, OptimisationMaxIdle: 2000, OptimisationMaxActive: 4000},
			want: storage.Options{Addrs: []string{"h:1"}, MaxIdleConns: 2000, MaxActiveConns: 4000},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redisOptions(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRedisOptionsTLS(t *testing.T) {
	files := testutil.WriteTLSFiles(t)
	got, err := redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLCAFile: files.CA})
	if err != nil {
		t.Fatal(err)
	}
	if got.TLS == nil || got.TLS.RootCAs == nil || got.TLS.InsecureSkipVerify {
		t.Fatalf("TLS %+v, want the CA of ssl-ca-file and verification on", got.TLS)
	}
	got, err = redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLInsecureSkipVerify: true})
	if err != nil || got.TLS == nil || !got.TLS.InsecureSkipVerify || got.TLS.RootCAs != nil {
		t.Fatalf("TLS %+v %v, want skip-verify and the system's CAs", got.TLS, err)
	}
	if got, _ := redisOptions(config.Redis{Host: "h", Port: 1, SSLCAFile: files.CA}); got.TLS != nil {
		t.Fatal("TLS set up without use-ssl")
	}

	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"missing", "/nonexistent/ca.pem", []string{"redis.ssl-ca-file: ", "/nonexistent/ca.pem"}},
		{"not PEM", testutil.WriteFile(t, "ca.pem", "not a certificate"), []string{"redis.ssl-ca-file: ", "holds no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisOptions(config.Redis{Host: "h", Port: 1, UseSSL: true, SSLCAFile: tc.file})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q, want %q in it", err, w)
				}
			}
		})
	}
}

// connIDs lists the ids of the connections r has open.
func connIDs(t *testing.T, r *testutil.Redis) map[string]bool {
	t.Helper()
	list, err := r.Client().ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "id=") {
			ids[f[0]] = true
		}
	}
	return ids
}

// opened counts the connections r has open that were not in before.
func opened(t *testing.T, r *testutil.Redis, before map[string]bool) int {
	t.Helper()
	n := 0
	for id := range connIDs(t, r) {
		if !before[id] {
			n++
		}
	}
	return n
}

// iam documents optimisation-max-idle 2000 and max-active 4000 for
// production: caps on the pool, not connections to open ahead of need.
func TestIamsProductionPoolOpensOneConnectionPerConcurrentCaller(t *testing.T) {
	r := testutil.StartRedis(t)
	before := connIDs(t, r)
	cfg := config.Default().Redis
	cfg.Host, cfg.Port = "127.0.0.1", r.Port
	cfg.OptimisationMaxIdle, cfg.OptimisationMaxActive = 2000, 4000
	client, err := newRedisClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	q := storage.NewQueue(client, "pool-test", "pool-test", 10*time.Second)

	// A few commands from four callers at once, as the drain's reader,
	// trimmer, lease keeper and a probe would send them.
	const callers = 4
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			list := "pool-test-" + strconv.Itoa(c)
			for i := range 20 {
				if err := q.Push(ctx, list, [][]byte{[]byte(strconv.Itoa(i))}); err != nil {
					errs <- err
					return
				}
				if _, err := q.Peek(ctx, list, 0, 10); err != nil {
					errs <- err
					return
				}
			}
			errs <- q.Ping(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := opened(t, r, before)
	t.Logf("the client holds %d connections after %d concurrent callers", n, callers)
	if n > callers {
		t.Fatalf("the client holds %d connections for %d concurrent callers: the pool opened what it may keep, not what it needs", n, callers)
	}
}

func TestDaemonWithIamsProductionPoolHoldsAHandfulOfConnections(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 20_000
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, n)
	before := connIDs(t, r)
	d := testutil.WriteRedisConfig(t,
		"  host: 127.0.0.1\n  port: "+strconv.Itoa(r.Port)+"\n  optimisation-max-idle: 2000\n  optimisation-max-active: 4000\n",
		"  d:\n    type: dummy\n", "batch-size: 500\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, 2*time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	// The probes and a scrape use Redis too.
	for _, url := range []string{d.ReadyURL(), "http://" + d.HealthAddr + "/metrics"} {
		if got := testutil.HTTPStatus(url); got != 200 {
			t.Fatalf("%s = %d, want 200", url, got)
		}
	}
	held := opened(t, r, before)
	t.Logf("the pump holds %d connections after draining %d records", held, n)
	// The reader, the trimmer, the lease keeper, a probe and a scrape, and
	// room for one more.
	if held > 6 {
		t.Errorf("the pump holds %d Redis connections: a handful is all it uses", held)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
}
