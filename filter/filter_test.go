package filter

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestCompileErrors(t *testing.T) {
	known := "; known: timestamp, username, effect, conclusion, request, policies, deciders, expireAt"
	for _, tc := range []struct {
		name, source, want string
	}{
		{"unknown name", `usr == "admin"`, `line 1, column 1: unknown name usr` + known},
		{"unknown name after an operator", `effect == "deny" && usr != ""`, `line 1, column 21: unknown name usr` + known},
		{"typo of a field", `usrname == "admin"`, `line 1, column 1: unknown name usrname (did you mean username?)`},
		{"second line", "effect == \"deny\" &&\n  usr != \"\"", `line 2, column 3: unknown name usr` + known},
		{"unfinished", `effect ==`, `line 1, column 9: unexpected token EOF`},
		{"unclosed string", `effect == "deny`, `line 1, column 16: literal not terminated`},
		{"unbalanced parenthesis", `(effect == "deny"`, `line 1, column 17: unexpected token EOF`},
		{"string plus int", `effect + 1 == 2`, `line 1, column 8: invalid operation: + (mismatched types string and int)`},
		{"time against int", `timestamp > 5`, `line 1, column 11: invalid operation: > (mismatched types time.Time and int)`},
		{"unknown function", `lowercase(effect) == "deny"`, `line 1, column 1: unknown name lowercase` + known},
		{"not a boolean", `effect`, `must be true or false: expected bool, but got string`},
		{"a number", `1 + 1`, `must be true or false: expected bool, but got int`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.source)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error %q", tc.source, m, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Compile(%q)\n got: %s\nwant: %s", tc.source, err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestEmptyExpressionIsNoFilter(t *testing.T) {
	for _, source := range []string{"", "  ", "\n\t"} {
		m, err := Compile(source)
		if err != nil || m != nil {
			t.Fatalf("Compile(%q) = %v, %v; want no filter", source, m, err)
		}
		recs := []analytics.Record{{Effect: "allow"}}
		if !m.Keep(recs, 0, new(Requests)) {
			t.Errorf("no filter dropped a record")
		}
	}
}

// golden are iam's own records: 0 peter allow delete, 1 maria deny print
// (a note with quotes and a newline), 2 empty strings and a zero expireAt.
func golden(t *testing.T) []analytics.Record {
	var recs []analytics.Record
	for _, g := range testutil.GoldenRecords(t) {
		recs = append(recs, g.Record)
	}
	if len(recs) != 3 {
		t.Fatalf("want 3 golden records, got %d", len(recs))
	}
	return recs
}

// keeps runs source on every record and returns the indexes kept.
func keeps(t *testing.T, source string, recs []analytics.Record) ([]int, int64) {
	t.Helper()
	m, err := Compile(source)
	if err != nil {
		t.Fatalf("Compile(%q): %v", source, err)
	}
	parsed := new(Requests)
	var kept []int
	for i := range recs {
		if m.Keep(recs, i, parsed) {
			kept = append(kept, i)
		}
	}
	return kept, m.Problems()
}

func TestKeepGoldenRecords(t *testing.T) {
	recs := golden(t)
	for _, tc := range []struct {
		source   string
		want     []int
		problems int64
	}{
		{`true`, []int{0, 1, 2}, 0},
		{`effect == "deny"`, []int{1, 2}, 0},
		{`effect == "deny" && username != "admin"`, []int{1, 2}, 0},
		{`effect == "deny" && username != ""`, []int{1}, 0},
		{`username in ["peter", "ken"]`, []int{0}, 0},
		{`username matches "^m"`, []int{1}, 0},
		{`conclusion contains "forcefully"`, []int{1}, 0},
		{`timestamp.Unix() == 1764057601`, []int{1}, 0},
		{`timestamp >= date("2025-11-25T08:00:01Z")`, []int{1, 2}, 0},
		{`policies contains "deny-all-printers"`, []int{1}, 0},
		{`deciders == "[]"`, []int{2}, 0},
		{`expireAt.Year() == 2126`, []int{0, 1}, 0},
		{`expireAt.IsZero()`, []int{2}, 0},
		{`request.action == "delete"`, []int{0}, 0},
		{`request.resource startsWith "resources:articles:"`, []int{0}, 0},
		{`request.subject == "users:maria"`, []int{1}, 0},
		{`request.context.remoteIP == "192.168.0.5"`, []int{0}, 0},
		{`request.context.note contains "\"quoted\", comma\nnewline"`, []int{1}, 0},
		{`request["action"] in ["delete", "print"]`, []int{0, 1}, 0},
		{`request.action == ""`, []int{2}, 0},
		// A key a request lacks is nil, at any depth, not an error.
		{`request.context.remoteIP == nil`, []int{1, 2}, 0},
		{`request.nothing.deeper.still == nil`, []int{0, 1, 2}, 0},
		{`(request.context?.remoteIP ?? "none") == "none"`, []int{1, 2}, 0},
		// Comparing a string with a number cannot be evaluated: false, counted.
		{`request.context.username > 5`, nil, 3},
		{`request.action.deeper == "x"`, nil, 3},
	} {
		t.Run(tc.source, func(t *testing.T) {
			kept, problems := keeps(t, tc.source, recs)
			if !equal(kept, tc.want) {
				t.Errorf("kept %v, want %v", kept, tc.want)
			}
			if problems != tc.problems {
				t.Errorf("problems %d, want %d", problems, tc.problems)
			}
		})
	}
}

func TestKeepTimes(t *testing.T) {
	now := time.Now()
	recs := []analytics.Record{
		{TimeStamp: now.Add(-10 * time.Minute).Unix(), ExpireAt: now.Add(time.Hour)},
		{TimeStamp: now.Add(-2 * time.Hour).Unix(), ExpireAt: now.Add(-time.Hour)},
		{TimeStamp: now.Add(time.Minute).Unix()},
	}
	for _, tc := range []struct {
		source string
		want   []int
	}{
		{`timestamp > now() - duration("1h")`, []int{0, 2}},
		{`now() - timestamp > duration("90m")`, []int{1}},
		{`timestamp.After(now())`, []int{2}},
		{`expireAt > now()`, []int{0}},
		{`timestamp.Unix() > now().Unix() - 3600`, []int{0, 2}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			kept, problems := keeps(t, tc.source, recs)
			if !equal(kept, tc.want) || problems != 0 {
				t.Errorf("kept %v with %d problems, want %v and none", kept, problems, tc.want)
			}
		})
	}
	// A duration that does not parse is an evaluation error: false, counted.
	kept, problems := keeps(t, `timestamp > now() - duration("1 hour")`, recs)
	if len(kept) != 0 || problems != 3 {
		t.Errorf("bad duration: kept %v with %d problems, want none kept and 3", kept, problems)
	}
}

// A request that is not a JSON object is seen as an empty request: the
// record is neither dropped nor kept because of it, the expression decides
// as it would for a request without those keys, and each one is counted.
func TestRequestNotJSON(t *testing.T) {
	recs := []analytics.Record{
		{Effect: "deny", Request: `{"action":"delete"`},
		{Effect: "deny", Request: ``},
		{Effect: "deny", Request: `["action"]`},
		{Effect: "deny", Request: `null`},
		{Effect: "deny", Request: `{"action":"delete"}`},
	}
	for _, tc := range []struct {
		source string
		want   []int
	}{
		{`request.action == "delete"`, []int{4}},
		{`request.action != "delete"`, []int{0, 1, 2, 3}},
		{`len(request) == 0`, []int{0, 1, 2, 3}},
		{`effect == "deny" && request.context.x == nil`, []int{0, 1, 2, 3, 4}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			kept, problems := keeps(t, tc.source, recs)
			if !equal(kept, tc.want) {
				t.Errorf("kept %v, want %v", kept, tc.want)
			}
			if problems != 4 {
				t.Errorf("problems %d, want the 4 requests that are not JSON objects", problems)
			}
		})
	}
	// An expression that does not read the request does not see them.
	if kept, problems := keeps(t, `effect == "deny"`, recs); len(kept) != 5 || problems != 0 {
		t.Errorf("effect only: kept %v with %d problems, want all and none", kept, problems)
	}
}

func TestUsesRequest(t *testing.T) {
	for source, want := range map[string]bool{
		`effect == "deny"`:                      false,
		`request.action == "delete"`:            true,
		`effect == "deny" || request != nil`:    true,
		`any(["a"], {# == request.subject})`:    true,
		`conclusion contains "request.action"`:  false,
		`username == "request"`:                 false,
		`let r = request; r.action == "delete"`: true,
	} {
		m, err := Compile(source)
		if err != nil {
			t.Fatalf("Compile(%q): %v", source, err)
		}
		if m.UsesRequest() != want {
			t.Errorf("UsesRequest(%q) = %v, want %v", source, !want, want)
		}
	}
}

// Several pumps filtering one batch at once parse each request once, and
// none when no expression reads it.
func TestRequestsParsedOncePerBatch(t *testing.T) {
	recs := make([]analytics.Record, 100)
	for i := range recs {
		recs[i] = testutil.MakeRecord(i)
	}
	sources := []string{`request.action == "delete"`, `request.subject endsWith "-3"`, `effect == "deny"`, `request.context.remoteIP != nil`}
	parsed := new(Requests)
	var wg sync.WaitGroup
	kept := make([]int, len(sources))
	for p, source := range sources {
		m, err := Compile(source)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range recs {
				if m.Keep(recs, i, parsed) {
					kept[p]++
				}
			}
		}()
	}
	wg.Wait()
	if n := parsed.Parsed(); n != int64(len(recs)) {
		t.Errorf("parsed %d requests for %d records", n, len(recs))
	}
	// MakeRecord: every action is delete, users user-0..6, every third denied.
	if want := []int{100, 14, 34, 100}; !equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}

	none := new(Requests)
	m, _ := Compile(`effect == "deny" && username != "admin"`)
	for i := range recs {
		m.Keep(recs, i, none)
	}
	if n := none.Parsed(); n != 0 {
		t.Errorf("parsed %d requests for an expression that does not read them", n)
	}
}

func TestMustCompilePanicsOnAnUnvalidatedExpression(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile accepted an expression that does not compile")
		}
	}()
	MustCompile(`usr == "admin"`)
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
