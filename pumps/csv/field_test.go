package csv

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The word-wide quoting doubles every quote wherever it falls in a word,
// across word ends and after bytes above 0x7f whose low bits are a quote's.
func TestAppendFieldDoublesEveryQuote(t *testing.T) {
	alphabet := []byte{'"', '"', '"', 'a', ',', '\n', 0xa2, 0x22 | 0x80, 'z', ' '}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		f := make([]byte, rng.IntN(41))
		for i := range f {
			f[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(f)
		want := s
		if needsQuotes(s) {
			want = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		prefix := []byte("12,")
		got := appendField(prefix, s)
		if string(got) != "12,"+want {
			t.Fatalf("appendField(%q) = %q, want %q", s, got[3:], want)
		}
	}
}

func TestAppendExpireAtIsTheLayout(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2126, 10, 31, 8, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100000000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 12, 0, 0, 5, time.FixedZone("CEST", 2*3600)),
	} {
		if got, want := string(appendExpireAt(nil, tm)), tm.Format(expireAtLayout); got != want {
			t.Errorf("appendExpireAt(%v) = %q, want %q", tm, got, want)
		}
	}
}
