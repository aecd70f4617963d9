package analytics

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// countingWriter keeps what is written and the largest single write.
type countingWriter struct {
	bytes.Buffer
	largest int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

func TestStreamJSONWritesWhatAppendJSONAppends(t *testing.T) {
	long := largeJSONText(3<<20) + "é✓\x01\"" + strings.Repeat("访", jsonPiece)
	base := Record{TimeStamp: 1764057600, Username: "peter", Effect: "allow", Conclusion: "c",
		Request: `{"a":"b"}`, Policies: `[{"id":"p"}]`, Deciders: "[]", ExpireAt: time.Unix(4917974400, 5).UTC()}
	withRequest, withPolicies, small := base, base, base
	withRequest.Request = long
	withPolicies.Policies, withPolicies.Deciders = long, long[:jsonPiece+3]
	carried := base
	carried.JSON, _ = AppendJSON(nil, &withRequest)
	for _, c := range []struct {
		name    string
		r       Record
		maxHeld int // the most b may hold or one write may carry
	}{
		{"a small record stays in b", small, 1 << 10},
		{"a long request is written in pieces", withRequest, 1 << 20},
		{"long policies and deciders", withPolicies, 1 << 20},
		{"a long carried encoding is written as it is", carried, len(carried.JSON)},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := AppendJSON([]byte("x"), &c.r)
			if err != nil {
				t.Fatal(err)
			}
			var w countingWriter
			b, err := StreamJSON(&w, []byte("x"), &c.r)
			if err != nil {
				t.Fatal(err)
			}
			if got := append(w.Bytes(), b...); !bytes.Equal(got, want) {
				t.Fatalf("StreamJSON wrote %d bytes that differ from AppendJSON's %d", len(got), len(want))
			}
			if w.largest > c.maxHeld || cap(b) > max(c.maxHeld, 1<<20) {
				t.Errorf("largest write %d, buffer of %d: want at most %d", w.largest, cap(b), c.maxHeld)
			}
		})
	}
	bad := Record{ExpireAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Request: long}
	var w countingWriter
	if b, err := StreamJSON(&w, []byte("x"), &bad); !errors.Is(err, ErrJSONTime) || string(b) != "x" || w.Len() != 0 {
		t.Errorf("year 10000: %q, %v, %d bytes written; want b unchanged, ErrJSONTime and nothing written", b, err, w.Len())
	}
}
