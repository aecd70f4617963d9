package filter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// fuzzed are expressions over every field; the fuzzer varies the record.
var fuzzed = []string{
	`effect == "deny" && username != "admin"`,
	`request.action == "delete"`,
	`timestamp.Unix() > 1764057600`,
	`timestamp > now() - duration("1h") || expireAt < now()`,
	`request.context.remoteIP startsWith "192.168." || request.context.n > 5`,
	`request.subject matches "^users:" && len(request) > 1`,
	`any(values(request), {# == "x"}) || request["a"]["b"][0] == 1`,
	`conclusion contains "deny" || policies contains "id" || deciders == ""`,
}

func FuzzKeep(f *testing.F) {
	for _, g := range testutil.GoldenRecords(f) {
		r := g.Record
		f.Add(r.TimeStamp, r.Username, r.Effect, r.Conclusion, r.Request, r.Policies, r.Deciders, r.ExpireAt.UnixNano())
	}
	f.Add(int64(-1), "admin", "deny", "", `{"action":"delete","context":{"n":"7"}}`, "", "", int64(0))
	f.Add(int64(1<<62), "", "", "", `{"a":{"b":[1]},"context":{"n":6}}`, "[]", "[]", int64(-1))
	f.Add(int64(0), "\xff", "deny\x00", "", `{"action":`, "", "", int64(1))
	matchers := make([]*Matcher, len(fuzzed))
	for i, source := range fuzzed {
		m, err := Compile(source)
		if err != nil {
			f.Fatalf("Compile(%q): %v", source, err)
		}
		matchers[i] = m
	}
	f.Fuzz(func(t *testing.T, ts int64, username, effect, conclusion, request, policies, deciders string, expireAt int64) {
		recs := []analytics.Record{{TimeStamp: ts, Username: username, Effect: effect, Conclusion: conclusion,
			Request: request, Policies: policies, Deciders: deciders, ExpireAt: time.Unix(0, expireAt)}}
		parsed := new(Requests)
		kept := make([]bool, len(matchers))
		for i, m := range matchers {
			kept[i] = m.Keep(recs, 0, parsed)
			if again := m.Keep(recs, 0, parsed); again != kept[i] {
				t.Fatalf("%q: %v then %v on the same record", fuzzed[i], kept[i], again)
			}
		}
		if parsed.Parsed() > 1 {
			t.Fatalf("one request parsed %d times", parsed.Parsed())
		}
		// The first three against the same decision written in Go.
		if want := effect == "deny" && username != "admin"; kept[0] != want {
			t.Errorf("%q = %v, want %v", fuzzed[0], kept[0], want)
		}
		var req map[string]any
		_ = json.Unmarshal([]byte(request), &req)
		action, _ := req["action"].(string)
		if want := action == "delete"; kept[1] != want {
			t.Errorf("%q = %v on %q, want %v", fuzzed[1], kept[1], request, want)
		}
		// time.Unix cannot hold every int64 of seconds; iam's are far inside.
		if ts > -1<<40 && ts < 1<<40 {
			if want := ts > 1764057600; kept[2] != want {
				t.Errorf("%q = %v at %d, want %v", fuzzed[2], kept[2], ts, want)
			}
		}
	})
}
