package elasticsearch

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// appendDocument writes what json.Marshal of the document says, field
// for field, for the strings JSON must escape too.
func TestAppendDocumentIsTheMarshalledDocument(t *testing.T) {
	awkward := "q\"b\\s/<>&\u2028\u2029\x00\x1f\b\f\n\r\t\xff\xfe é 日本"
	for _, d := range []document{
		{Timestamp: 1700000000, Username: "alice", Effect: "allow", Conclusion: "ok",
			Request: `{"subject":"users:alice","action":"delete"}`, Policies: `[{"id":"p"}]`, Deciders: `[]`,
			ExpireAt: time.Date(2026, 12, 2, 4, 5, 6, 789000000, time.UTC)},
		{Timestamp: -1, Username: awkward, Effect: awkward, Conclusion: awkward, Request: awkward, Policies: awkward, Deciders: awkward,
			ExpireAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Resource: awkward, Action: "a", Subject: "s"},
		{},
	} {
		want, err := json.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendDocument(nil, &d)
		if err != nil {
			t.Fatal(err)
		}
		var w, g map[string]any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, got)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := appendDocument(nil, &document{ExpireAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a year past 9999 encoded; json.Marshal refuses it")
	}
}
