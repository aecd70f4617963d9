//go:build linux

package main

// End-to-end tests: the real binary against real redis-server processes.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pump"
	csvsink "github.com/pumpd/pump/pumps/csv"
)

const key = analytics.DefaultKey

var ctx = context.Background()

func listLen(t *testing.T, r *testutil.Redis, list string) int64 {
	t.Helper()
	n, err := r.Client().LLen(ctx, list).Result()
	if err != nil {
		t.Fatalf("LLEN %s: %v", list, err)
	}
	return n
}

// idsInList decodes the records still waiting in list.
func idsInList(t *testing.T, r *testutil.Redis, list string) []string {
	t.Helper()
	vals, err := r.Client().LRange(ctx, list, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range vals {
		rec, err := analytics.Decode([]byte(v))
		if err != nil {
			t.Fatalf("%s holds an undecodable element: %v", list, err)
		}
		ids = append(ids, testutil.IDOf(rec))
	}
	return ids
}

func ids(recs []analytics.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, testutil.IDOf(r))
	}
	return out
}

func goldenRaw(t *testing.T) ([][]byte, []map[string]any) {
	t.Helper()
	dir := "../../../shared/testdata/iam-records"
	var raws [][]byte
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "record-"+strconv.Itoa(i)+".msgpack"))
		if err != nil {
			t.Fatalf("golden records: %v", err)
		}
		raws = append(raws, b)
	}
	var expected []struct {
		Record map[string]any `json:"record"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	for _, e := range expected {
		want = append(want, e.Record)
	}
	return raws, want
}

func TestIAMConfigDrainsToCSVWithNothingLostOrDoubled(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 100_000
	r := testutil.StartRedis(t)
	raws, want := goldenRaw(t)
	if err := r.Client().RPush(ctx, key, raws[0], raws[1], raws[2]).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.Seed(t, r.Client(), key, 0, n)
	dir := t.TempDir()
	d := testutil.WriteConfig(t, r.Port, "  csv:\n    type: csv\n    meta:\n      csv_dir: "+dir+"\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)

	testutil.Eventually(t, 2*time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	if got := testutil.HTTPStatus(d.HealthURL()); got != 200 {
		t.Errorf("/healthz = %d while running, want 200", got)
	}
	if got := testutil.HTTPStatus(d.ReadyURL()); got != 200 {
		t.Errorf("/readyz = %d while running, want 200", got)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}

	// Named as iam-pump names them, which downstream loaders glob.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if _, err := time.Parse("2006-January-2-15.csv", filepath.Base(f)); err != nil {
			t.Errorf("file %s is not named as iam names the hour's file (2026-December-1-9.csv)", filepath.Base(f))
		}
	}
	rows := testutil.ReadCSVDir(t, dir, csvsink.Header)
	if len(rows) != n+3 {
		t.Fatalf("%d CSV rows, want %d", len(rows), n+3)
	}
	// The golden records come first, field for field as iam wrote them.
	for i, w := range want {
		row := rows[i]
		ts := strconv.FormatInt(int64(w["timestamp"].(float64)), 10)
		for j, field := range []string{ts, w["username"].(string), w["effect"].(string), w["conclusion"].(string),
			w["request"].(string), w["policies"].(string), w["deciders"].(string)} {
			if row[j] != field {
				t.Errorf("golden record %d column %s = %q, want %q", i+1, csvsink.Header[j], row[j], field)
			}
		}
		wantExpire, _ := time.Parse(time.RFC3339Nano, w["expireAt"].(string))
		if !strings.HasPrefix(row[7], wantExpire.UTC().Format("2006-01-02 15:04:05")) {
			t.Errorf("golden record %d ExpireAt = %q, want the instant %v", i+1, row[7], wantExpire.UTC())
		}
	}
	var got []string
	for _, row := range rows[3:] {
		_, id, _ := strings.Cut(row[3], "id=")
		got = append(got, id)
	}
	acc := testutil.Tally(got, 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d records missing (first %v), %d duplicated", len(acc.Missing), first(acc.Missing), acc.Duplicates)
	}
	if holder, _ := r.Client().Get(ctx, "{"+key+"}.lease").Result(); holder != "" {
		t.Errorf("lease still held after a clean stop by %q", holder)
	}
}

func first(s []string) []string { return s[:min(len(s), 5)] }

func TestSIGTERMMidBacklogLeavesEveryRecordInTheSinkOrRedis(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 20_000
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, n)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	// 200 batches at 100ms each: the drain takes 20s, the signal comes
	// after about one.
	d := testutil.WriteConfig(t, r.Port, "  slow:\n    type: faulty\n    meta: {path: "+out+", delay: 100ms}\n", "batch-size: 100\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "some records written", func() bool { return testutil.CountLines(t, out) >= 1000 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	written := ids(testutil.ReadJSONLines(t, out))
	left := idsInList(t, r, key)
	if len(left) == 0 {
		t.Fatal("the whole backlog drained before the signal: the test proves nothing; slow the sink")
	}
	acc := testutil.Tally(append(written, left...), 0, n)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d written + %d in Redis: %d missing (first %v), %d duplicated",
			len(written), len(left), len(acc.Missing), first(acc.Missing), acc.Duplicates)
	}
	t.Logf("at the stop: %d written, %d left at the head of the list", len(written), len(left))
	if !strings.Contains(p.Output(), "loop stopped") {
		t.Error("no orderly stop in the log")
	}
}

func TestSecondSignalExitsAtOnceWithStatus1(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, 10)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  stuck:\n    type: faulty\n    timeout: 600\n    meta: {path: "+out+", delay: 10m}\n", "shutdown-timeout: 5m\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	p.WaitOutput(30*time.Second, "holding the drain lease")
	p.Signal(syscall.SIGTERM)
	p.WaitOutput(30*time.Second, "stop signal")
	start := time.Now()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(30 * time.Second); code != 1 {
		t.Fatalf("exit status %d after the second signal, want 1", code)
	}
	t.Logf("exited %v after the second signal", time.Since(start))
	if got := listLen(t, r, key); got != 10 {
		t.Fatalf("%d records left in Redis, want all 10 (none was written)", got)
	}
}

func TestPoisonElementsEndInTheDeadLetterListByteForByte(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	poison := [][]byte{[]byte("not msgpack at all"), []byte(`{"username":"json"}`), {0x88, 0xa9}, {}, {0xc1}}
	var want [][]byte
	for i := 0; i < 50; i++ {
		testutil.Seed(t, r.Client(), key, i*20, i*20+20)
		pz := append([]byte{}, poison[i%len(poison)]...)
		pz = append(pz, byte(i)) // each one unique
		want = append(want, pz)
		if err := r.Client().RPush(ctx, key, pz).Err(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+out+"}\n", "batch-size: 64\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 1000)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d good records missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
	dead, _ := r.Client().LRange(ctx, "{"+key+"}.dead", 0, -1).Result()
	if len(dead) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(want))
	}
	for i, e := range dead {
		env, err := pump.DecodeDeadLetter([]byte(e))
		if err != nil {
			t.Fatalf("dead letter %d is not an envelope: %v", i, err)
		}
		if string(env.Raw) != string(want[i]) {
			t.Errorf("dead letter %d holds %q, want %q", i, env.Raw, want[i])
		}
		if !strings.Contains(env.Reason, "malformed analytics record") || env.Key != key || env.Time.IsZero() {
			t.Errorf("dead letter %d envelope incomplete: %+v", i, env)
		}
	}
}

// Two of the three JSON pumps here write the same bytes, so the loop
// encodes each record once for both; the one that omits details must not
// get those bytes.
func TestFiltersAndOmitGiveEachPumpItsOwnView(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, 700)
	dir := t.TempDir()
	only := filepath.Join(dir, "only.jsonl")
	skip := filepath.Join(dir, "skip.jsonl")
	all := filepath.Join(dir, "all.jsonl")
	pumps := "  only:\n    type: jsonl\n    filters: {usernames: [user-1, user-2]}\n    meta: {path: " + only + "}\n" +
		"  skip:\n    type: jsonl\n    omit-detailed-recording: true\n    filters: {skip_usernames: [user-1]}\n    meta: {path: " + skip + "}\n" +
		"  all:\n    type: jsonl\n    meta: {path: " + all + "}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)

	gotOnly := testutil.ReadJSONLines(t, only)
	gotSkip := testutil.ReadJSONLines(t, skip)
	if len(gotOnly) != 200 || len(gotSkip) != 600 {
		t.Fatalf("only got %d (want 200), skip got %d (want 600)", len(gotOnly), len(gotSkip))
	}
	for _, rec := range gotOnly {
		if rec.Username != "user-1" && rec.Username != "user-2" || rec.Policies == "" {
			t.Fatalf("pump 'only' got %+v", rec)
		}
	}
	for _, rec := range gotSkip {
		if rec.Username == "user-1" || rec.Policies != "" || rec.Deciders != "" || rec.Request == "" {
			t.Fatalf("pump 'skip' got %+v", rec)
		}
	}
	// Byte for byte what the record encodes to, in the list's order.
	data, err := os.ReadFile(all)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 700 {
		t.Fatalf("pump 'all' wrote %d lines, want 700", len(lines))
	}
	for i, line := range lines {
		rec := testutil.MakeRecord(i)
		want, err := analytics.AppendJSON(nil, &rec)
		if err != nil {
			t.Fatal(err)
		}
		if line != string(want) {
			t.Fatalf("pump 'all' line %d:\n%s\nwant\n%s", i, line, want)
		}
	}
}

func TestBadConfigurationExits2NamingTheKeyWithoutTouchingRedis(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, 10)
	d := testutil.WriteConfig(t, r.Port, "  csv:\n    type: csv\n    meta: {csv_dri: /tmp}\n", "")
	for _, cmd := range [][]string{{"run"}, {"validate"}, {}} {
		code, out := testutil.RunPump(t, nil, append(cmd, "-c", d.ConfigPath)...)
		if code != 2 {
			t.Errorf("pump %v: exit %d, want 2; output:\n%s", cmd, code, out)
		}
		if !strings.Contains(out, `pumps.csv.meta.csv_dri: unknown key (did you mean "csv_dir"?)`) {
			t.Errorf("pump %v: output does not name the key:\n%s", cmd, out)
		}
	}
	keys, _ := r.Client().Keys(ctx, "*").Result()
	if len(keys) != 1 || listLen(t, r, key) != 10 {
		t.Fatalf("redis was touched: keys %v", keys)
	}
	good := testutil.WriteConfig(t, r.Port, "  csv:\n    type: csv\n    meta: {csv_dir: /tmp}\n", "")
	if code, out := testutil.RunPump(t, nil, "validate", "-c", good.ConfigPath); code != 0 || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("validate of a good file: exit %d:\n%s", code, out)
	}
}

func TestPasswordsNeverReachTheLog(t *testing.T) {
	testutil.NeedsBinary(t)
	const secret = "hunter2-secret"
	r := testutil.StartRedis(t, testutil.RedisOptions{Password: secret})
	testutil.Seed(t, r.Client(), key, 0, 100)
	d := testutil.WriteConfig(t, r.Port, "  d:\n    type: dummy\n", "")
	env := []string{"IAM_PUMP_REDIS_PASSWORD=" + secret}
	p := testutil.StartPump(t, env, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained with the password", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	code, printed := testutil.RunPump(t, env, "validate", "--print", "-c", d.ConfigPath)
	if code != 0 {
		t.Fatalf("validate: %d\n%s", code, printed)
	}
	for what, out := range map[string]string{"the daemon's log": p.Output(), "validate --print": printed} {
		if strings.Contains(out, secret) || !strings.Contains(out, "<redacted>") {
			t.Errorf("%s shows the password or redacts nothing:\n%s", what, out)
		}
	}
}

func TestSecondInstanceStandsByAndTakesOverAfterAStop(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	a := testutil.StartPump(t, nil, "-c", testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+outA+"}\n", "").ConfigPath)
	a.WaitOutput(30*time.Second, "holding the drain lease")
	b := testutil.StartPump(t, nil, "-c", testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+outB+"}\n", "").ConfigPath)
	b.WaitOutput(30*time.Second, "standing by")

	testutil.Seed(t, r.Client(), key, 0, 5000)
	testutil.Eventually(t, time.Minute, "A drained the list", func() bool { return listLen(t, r, key) == 0 })
	if got := len(testutil.ReadJSONLines(t, outB)); got != 0 {
		t.Fatalf("the standby wrote %d records while the holder ran", got)
	}
	a.Signal(syscall.SIGTERM)
	if code := a.Wait(time.Minute); code != 0 {
		t.Fatalf("A exit %d", code)
	}
	b.WaitOutput(30*time.Second, "holding the drain lease")
	testutil.Seed(t, r.Client(), key, 5000, 8000)
	testutil.Eventually(t, time.Minute, "B drained the rest", func() bool { return listLen(t, r, key) == 0 })
	b.Signal(syscall.SIGTERM)
	b.Wait(time.Minute)
	all := append(ids(testutil.ReadJSONLines(t, outA)), ids(testutil.ReadJSONLines(t, outB))...)
	acc := testutil.Tally(all, 0, 8000)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("%d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
}

func TestReadinessFollowsRedisAndTheDrainResumesAfterARestart(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t, testutil.RedisOptions{Persist: true})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+out+"}\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, 30*time.Second, "/readyz 200", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	testutil.Seed(t, r.Client(), key, 0, 1000)
	testutil.Eventually(t, time.Minute, "first drain", func() bool { return listLen(t, r, key) == 0 })

	r.Kill()
	testutil.Eventually(t, 30*time.Second, "/readyz 503 with Redis down", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 503 })
	if got := testutil.HTTPStatus(d.HealthURL()); got != 200 {
		t.Errorf("/healthz = %d with Redis down: the loop itself is alive, want 200", got)
	}
	r.Start()
	testutil.Seed(t, r.Client(), key, 1000, 3000)
	testutil.Eventually(t, time.Minute, "/readyz 200 again", func() bool { return testutil.HTTPStatus(d.ReadyURL()) == 200 })
	testutil.Eventually(t, time.Minute, "drain resumed", func() bool { return listLen(t, r, key) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, out)), 0, 3000)
	if len(acc.Missing) > 0 {
		t.Fatalf("%d missing", len(acc.Missing))
	}
	if strings.Count(p.Output(), "redis unreachable") != 1 {
		t.Errorf("want one 'redis unreachable' line per outage, got %d", strings.Count(p.Output(), "redis unreachable"))
	}
}

func TestFailingPumpIsParkedWhileTheOthersGoOnThenReplayed(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	outage := filepath.Join(dir, "outage")
	if err := os.WriteFile(outage, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	good, flaky := filepath.Join(dir, "good.jsonl"), filepath.Join(dir, "flaky.jsonl")
	pumps := "  good:\n    type: jsonl\n    meta: {path: " + good + "}\n" +
		"  flaky:\n    type: faulty\n    max-retry-time: 1s\n    meta: {path: " + flaky + ", fail_while_exists: " + outage + "}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "batch-size: 500\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Seed(t, r.Client(), key, 0, 5000)
	parked := "{" + key + "}.parked.flaky"
	testutil.Eventually(t, time.Minute, "main list drained, flaky's share parked", func() bool {
		return listLen(t, r, key) == 0 && listLen(t, r, parked) == 5000
	})
	if got := len(testutil.ReadJSONLines(t, good)); got != 5000 {
		t.Fatalf("the healthy pump has %d records, want 5000", got)
	}
	os.Remove(outage)
	testutil.Eventually(t, time.Minute, "parked list replayed", func() bool { return listLen(t, r, parked) == 0 })
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	acc := testutil.Tally(ids(testutil.ReadJSONLines(t, flaky)), 0, 5000)
	if len(acc.Missing) > 0 || acc.Duplicates > 0 {
		t.Fatalf("flaky pump after replay: %d missing, %d duplicated", len(acc.Missing), acc.Duplicates)
	}
}

func TestShippedConfigurationsAreValid(t *testing.T) {
	testutil.NeedsBinary(t)
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs/*.yaml found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, out := testutil.RunPump(t, nil, "validate", "-c", f)
			if code != 0 {
				t.Fatalf("pump validate -c %s: exit %d\n%s", f, code, out)
			}
		})
	}
}

func TestPluginsListsEverySinkAndMiddleware(t *testing.T) {
	testutil.NeedsBinary(t)
	code, out := testutil.RunPump(t, nil, "plugins")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"csv", "jsonl", "stdout", "dummy", "recovery", "requestid", "logger"} {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("pump plugins does not list %s:\n%s", name, out)
		}
	}
	code, out = testutil.RunPump(t, nil, "plugins", "csv")
	if code != 0 || !strings.Contains(out, "csv_dir") {
		t.Errorf("pump plugins csv: exit %d\n%s", code, out)
	}
}
