package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/analytics"
)

const key = analytics.DefaultKey

// startRedis starts the run's redis-server and returns its port and pid.
func startRedis(dir string) (int, int, func(), error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, fmt.Errorf("start redis-server (make test-deps installs it): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			stop()
			return 0, 0, nil, errors.New("redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, cmd.Process.Pid, stop, nil
}

// procCPU is a running process's user and system CPU so far, from
// /proc/<pid>/stat, 0 when it cannot be read.
// selfCPU is pumpbench's own user+system CPU so far, all its threads: with
// an in-process server, mostly that server's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ")".
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0
	}
	// utime and stime, fields 14 and 15, in clock ticks: USER_HZ, which
	// is 100 on every Linux the kernel ABI promises to user space.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * (time.Second / 100)
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before it is used; on a benchmark machine that is rare enough.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// variants are the parts of the seeded records that vary little: seven
// users, allow and deny. Every record is made unique by its request id
// (and its second), because the sinks that deduplicate by the record's id
// (mongo, postgres, elasticsearch, influx) would otherwise store each
// distinct record once, and the count on the server could not be checked.
const variants = 64

// record returns the i-th seeded record, ~650 bytes encoded, all of them
// the same size; about 1,000 decisions share each second, as on a busy
// authorization server.
func record(i int) analytics.Record {
	v := i % variants
	user := fmt.Sprintf("user-%d", v%7)
	effect := "allow"
	if v%5 == 4 {
		effect = "deny"
	}
	return analytics.Record{
		TimeStamp: 1764057600 + int64(i/1000), Username: user, Effect: effect,
		Conclusion: "policies 68819e5a-738b-41ec-b03c-b58a1b19d043 " + effect + " access",
		Request: `{"resource":"resources:articles:ladon-introduction","action":"delete","subject":"users:` + user +
			`","context":{"remoteIP":"192.168.0.5","requestID":"` + fmt.Sprintf("%010d", i) + `","username":"` + user + `"}}`,
		Policies: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","subjects":["users:maria"],"effect":"allow","resources":["resources:articles:<.*>"],"actions":["delete"],"conditions":{"remoteIP":{"type":"CIDRCondition","options":{"cidr":"192.168.0.1/16"}}}}]`,
		Deciders: `[{"id":"68819e5a-738b-41ec-b03c-b58a1b19d043","effect":"` + effect + `"}]`,
		ExpireAt: time.Unix(1764057600, 0).AddDate(100, 0, 0),
	}
}

func encoded(i int) []byte {
	r := record(i)
	b, err := analytics.Encode(&r)
	if err != nil {
		panic(err)
	}
	return b
}

// seed empties the database (what a failed drain left: records, dead
// letters, parked lists, a lease) and fills the list with n distinct
// records, in order.
func seed(c *redis.Client, n int) error {
	// Write back what the previous line left dirty in the page cache, so
	// one file sink's writeback does not slow the next line's fsyncs.
	syscall.Sync()
	ctx := context.Background()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return err
	}
	const chunk = 5000
	pipe := c.Pipeline()
	for start := 0; start < n; start += chunk {
		vals := make([]any, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			vals = append(vals, encoded(i))
		}
		pipe.RPush(ctx, key, vals...)
		if pipe.Len() >= 20 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// rawDrain is the ceiling: LPOP 1000 and decode, at-most-once, nothing
// written — what an unsafe pump does at best.
func rawDrain(c *redis.Client, n int, name string) (result, error) {
	ctx := context.Background()
	start := time.Now()
	got := 0
	for {
		vals, err := c.LPopCount(ctx, key, 1000).Result()
		if errors.Is(err, redis.Nil) || len(vals) == 0 {
			break
		}
		if err != nil {
			return result{}, err
		}
		for _, v := range vals {
			if _, err := analytics.Decode([]byte(v)); err != nil {
				return result{}, err
			}
		}
		got += len(vals)
	}
	if got != n {
		return result{}, fmt.Errorf("raw drain read %d, want %d", got, n)
	}
	return result{name: name, records: n, took: time.Since(start), server: "-", check: thousands(n) + " popped and decoded"}, nil
}

// leftovers sums the dead-letter and parked lists of the drained key (the
// list or the stream source): a record there was not delivered, so a drain
// that leaves any is no result.
func leftovers(c *redis.Client, source string) (int64, error) {
	ctx := context.Background()
	var total int64
	iter := c.Scan(ctx, 0, "{"+source+"}.*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if !strings.HasSuffix(k, ".dead") && !strings.Contains(k, ".parked.") {
			continue
		}
		n, err := c.LLen(ctx, k).Result()
		if err != nil {
			return 0, fmt.Errorf("LLEN %s: %w", k, err)
		}
		total += n
	}
	return total, iter.Err()
}
