//go:build linux

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

const producePumps = "  d:\n    type: dummy\n"

// distinctIDs decodes raws and fails unless each carries its own
// "id=prefix-N", N from 0 to len-1, in order.
func distinctIDs(t *testing.T, raws []string, prefix string) {
	t.Helper()
	for i, raw := range raws {
		rec, err := analytics.Decode([]byte(raw))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if id := testutil.IDOf(rec); id != fmt.Sprintf("%s-%d", prefix, i) {
			t.Fatalf("record %d carries id %q, want %s-%d", i, id, prefix, i)
		}
	}
}

func TestProduceToTheConfiguredList(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, producePumps, "")
	// More than one round of encoding (produceChunk).
	code, out := testutil.RunPump(t, nil, "produce", "--count", "12345", "--id-prefix", "p", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(out, "sent 12345 records to list "+key) {
		t.Fatalf("pump produce: exit %d\n%s", code, out)
	}
	vals, err := r.Client().LRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 12345 {
		t.Fatalf("%d records in %s, want 12345", len(vals), key)
	}
	distinctIDs(t, vals, "p")
}

func TestProduceToAStreamWithItsField(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, producePumps, "")
	code, out := testutil.RunPump(t, nil, "produce", "--mode", "streams", "--key", "events", "--field", "rec",
		"--count", "300", "--id-prefix", "s", "-c", d.ConfigPath)
	if code != 0 || !strings.Contains(out, "sent 300 records to streams events") {
		t.Fatalf("pump produce: exit %d\n%s", code, out)
	}
	entries, err := r.Client().XRange(ctx, "events", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, e := range entries {
		v, ok := e.Values["rec"].(string)
		if !ok || len(e.Values) != 1 {
			t.Fatalf("entry %s: fields %v, want rec alone", e.ID, e.Values)
		}
		raws = append(raws, v)
	}
	if len(raws) != 300 {
		t.Fatalf("%d entries, want 300", len(raws))
	}
	distinctIDs(t, raws, "s")
}

func TestProduceSaysWhatIsWrong(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	d := testutil.WriteConfig(t, r.Port, producePumps, "")
	if err := r.Client().Set(ctx, "taken", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dead := testutil.WriteConfig(t, testutil.FreePort(t), producePumps, "")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--mode", "stream"}, 2, `--mode: mode "stream": want list or streams`},
		{[]string{"--count", "-1"}, 2, "--count -1: want 0 or more"},
		{[]string{"extra"}, 2, `produce takes no arguments, got "extra"`},
		{[]string{"--key", "taken"}, 1, "WRONGTYPE"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out := testutil.RunPump(t, nil, append([]string{"produce", "-c", d.ConfigPath}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want %d and %q in:\n%s", code, c.code, c.want, out)
			}
		})
	}
	t.Run("no redis", func(t *testing.T) {
		code, out := testutil.RunPump(t, nil, "produce", "--count", "1", "--redis.timeout", "1", "-c", dead.ConfigPath)
		if code != 1 || !strings.Contains(out, "sent 0 records") {
			t.Fatalf("exit %d, want 1 and sent 0 in:\n%s", code, out)
		}
	})
}

// The sources that pump produce writes to are checked by pump validate,
// through the configuration's own validation.
func TestValidateChecksSources(t *testing.T) {
	testutil.NeedsBinary(t)
	bad := testutil.WriteConfig(t, testutil.FreePort(t), producePumps, "sources: [{key: a}, {key: b, mode: stream, pumps: [x]}]")
	code, out := testutil.RunPump(t, nil, "validate", "-c", bad.ConfigPath)
	if code != 2 || !strings.Contains(out, `sources[1].mode: want list or streams, got "stream"`) ||
		!strings.Contains(out, `sources[1].pumps: no pump named "x"`) {
		t.Fatalf("pump validate: exit %d, want 2 naming sources[1].mode and .pumps:\n%s", code, out)
	}
	good := testutil.WriteConfig(t, testutil.FreePort(t), producePumps, "sources: [{key: b, mode: streams, pumps: [d]}]")
	if code, out := testutil.RunPump(t, nil, "validate", "--print", "-c", good.ConfigPath); code != 0 || !strings.Contains(out, "mode: streams") {
		t.Fatalf("pump validate --print: exit %d, want 0 and the sources:\n%s", code, out)
	}
}
