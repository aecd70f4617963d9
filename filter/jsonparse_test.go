package filter

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// parseObject must give what encoding/json gives for a map[string]any, and
// refuse what it refuses.
func FuzzParseObject(f *testing.F) {
	for _, g := range testutil.GoldenRecords(f) {
		f.Add(g.Record.Request)
		f.Add(g.Record.Policies)
	}
	for _, s := range []string{`{}`, ` {"a" : [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"]} `, `{"a":1}x`,
		`{"a":"\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\udc00\ud800"}`, "{\"a\":\"\xff\"}", `{"a":01}`, `{"a":1.}`,
		`{"a":1e400}`, `{"a":-}`, `{"a":"\x"}`, `{"a":1,}`, `[1]`, `null`, `{"a":{"a":{}}}`, `{"a":1,"a":2}`, "{\"a\":\"\t\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := parseObject(text)
		var want map[string]any
		wantErr := json.Unmarshal([]byte(text), &want)
		if wantErr == nil && want == nil {
			wantErr = errSyntax // "null": not an object
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("parseObject(%q): error %v, encoding/json: %v", text, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseObject(%q) = %#v, encoding/json gives %#v", text, got, want)
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	text := testutil.MakeRecord(1).Request
	b.Run("parseObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseObject(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal([]byte(text), &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
