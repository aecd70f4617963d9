//go:build linux

package main

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// Two pumps, one with an expression over fields and the request: each gets
// exactly its records, a record whose request is not JSON included (the
// expression saw an empty request and kept it), and the problem is counted.
func TestFilterExpressionGivesAPumpItsRecordsThroughTheBinary(t *testing.T) {
	testutil.NeedsBinary(t)
	const n = 700
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, n)
	bad := analytics.Record{TimeStamp: 1764057600, Username: "user-3", Effect: "deny",
		Conclusion: "id=bad-request", Request: `{"subject": "users:user-2"`, ExpireAt: time.Unix(1764057600, 0).UTC()}
	raw, err := analytics.Encode(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Client().RPush(ctx, key, raw).Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	denied := filepath.Join(dir, "denied.jsonl")
	all := filepath.Join(dir, "all.jsonl")
	pumps := "  denied:\n    type: jsonl\n    filters:\n      skip_usernames: [user-1]\n" +
		"      expr: effect == \"deny\" && request.subject != \"users:user-2\" && timestamp > now() - duration(\"87600h\")\n" +
		"    meta: {path: " + denied + "}\n" +
		"  all:\n    type: jsonl\n    meta: {path: " + all + "}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "batch-size: 100\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "the list drained", func() bool { return listLen(t, r, key) == 0 })
	m := scrape(t, d.HealthAddr)
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0:\n%s", code, p.Output())
	}

	// MakeRecord(i): user-(i%7), and i%3 == 0 denied; its request's subject
	// names the same user.
	var want []string
	for i := range n {
		if i%3 == 0 && i%7 != 1 && i%7 != 2 {
			want = append(want, testutil.RecordID(i))
		}
	}
	want = append(want, "bad-request")
	if got := ids(testutil.ReadJSONLines(t, denied)); !slices.Equal(got, want) {
		t.Errorf("pump 'denied' got %d records %v..., want %d %v...", len(got), first(got), len(want), first(want))
	}
	if got := ids(testutil.ReadJSONLines(t, all)); len(got) != n+1 {
		t.Errorf("pump 'all' got %d records, want %d", len(got), n+1)
	}
	if got, want := m["pump_records_filtered_total"].get("pump=denied"), float64(n+1-len(want)); got != want {
		t.Errorf("pump_records_filtered_total{pump=denied} = %v, want %v", got, want)
	}
	if got := m["pump_filter_problems_total"].get("pump=denied"); got != 1 {
		t.Errorf("pump_filter_problems_total{pump=denied} = %v, want 1 (the request that is not JSON)", got)
	}
	if got := m["pump_filter_problems_total"].get("pump=all"); got != 0 {
		t.Errorf("pump_filter_problems_total{pump=all} = %v, want 0", got)
	}
}

func TestBadFilterExpressionExits2NamingThePumpAndPosition(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), key, 0, 10)
	pumps := "  csv:\n    type: csv\n    meta: {csv_dir: " + t.TempDir() + "}\n    filters: {expr: 'effect == \"deny\" && usr != \"admin\"'}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "")
	const want = `pumps.csv.filters.expr: line 1, column 21: unknown name usr`
	for _, cmd := range [][]string{{"run"}, {"validate"}} {
		code, out := testutil.RunPump(t, nil, append(cmd, "-c", d.ConfigPath)...)
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("pump %v: exit %d, want 2 and %q in:\n%s", cmd, code, want, out)
		}
	}
	if n := listLen(t, r, key); n != 10 {
		t.Fatalf("redis was touched: %d records left of 10", n)
	}
	testutil.ValidateRejects(t, "  csv:\n    type: csv\n    meta: {csv_dir: /tmp}\n    filters: {expr: 'username'}\n",
		`pumps.csv.filters.expr: must be true or false: expected bool, but got string`)
}
