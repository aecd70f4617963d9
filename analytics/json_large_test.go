package analytics

import (
	"strings"
	"testing"
)

// largeJSONText is n bytes of JSON text, a quote every few bytes, as a
// large request holds.
func largeJSONText(n int) string {
	var b strings.Builder
	b.WriteString(`{"blob":[`)
	for b.Len() < n {
		b.WriteString(`"ladon",`)
	}
	return b.String()[:n]
}

// BenchmarkAppendJSONStringLarge escapes large strings: into a reused
// buffer (the sinks' case) and into a fresh one, whose B/op is what one
// encoding of such a string allocates.
func BenchmarkAppendJSONStringLarge(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    string
	}{
		{"400KB-json-text", largeJSONText(400 << 10)},
		{"24MB-json-text", largeJSONText(24 << 20)},
	} {
		b.Run(bc.name+"/reused", func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(bc.s)))
			for i := 0; i < b.N; i++ {
				buf = AppendJSONString(buf[:0], bc.s)
			}
		})
		b.Run(bc.name+"/fresh", func(b *testing.B) {
			b.SetBytes(int64(len(bc.s)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = AppendJSONString(nil, bc.s)
			}
		})
	}
}

// TestAppendJSONStringAcrossPieces puts each kind of byte that needs care
// across the boundary of the pieces a long string is escaped in, and
// compares with encoding/json byte for byte.
func TestAppendJSONStringAcrossPieces(t *testing.T) {
	specials := []string{
		`"`, `\`, "\n", "\x01", "é", "✓", "😀", "\u2028", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80",
		"\xf0\x9f\x98\x80\x80", "\x80\x80\x80\x80\x80", "é\"", "✓\x01\"",
	}
	for _, sp := range specials {
		for before := 1; before <= 9; before++ {
			s := strings.Repeat("a", jsonPiece-before) + sp + largeJSONText(jsonPiece+100)
			want, err := stdJSON(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
				t.Errorf("special %q %d bytes before the piece's end: output differs from encoding/json", sp, before)
			}
		}
	}
}

// TestAppendJSONStringLongDoesNotReserveSixTimes checks that a long string
// is not given six times its length up front.
func TestAppendJSONStringLongDoesNotReserveSixTimes(t *testing.T) {
	s := largeJSONText(4 << 20)
	got := AppendJSONString(nil, s)
	if c := cap(got); c > 2*len(got) {
		t.Errorf("escaping %d bytes into %d took a buffer of %d", len(s), len(got), c)
	}
}
