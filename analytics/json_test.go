package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	_, raws := loadGolden(t)
	var recs []Record
	for _, raw := range raws {
		r, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	recs = append(recs, Record{
		Username: "ctl\x00\x1f\"\\\t\r\n", Effect: "bad\xffutf8", Conclusion: "sep\u2028\u2029",
		Request: "<html>&", ExpireAt: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC),
	})
	for i, r := range recs {
		got, err := AppendJSON(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		var back, want map[string]any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("record %d: AppendJSON wrote invalid JSON %s: %v", i, got, err)
		}
		std, _ := json.Marshal(r)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if back[k] != v {
				t.Errorf("record %d field %s: got %#v, encoding/json %#v", i, k, back[k], v)
			}
		}
		if len(back) != len(want) {
			t.Errorf("record %d: %d fields, encoding/json has %d", i, len(back), len(want))
		}
	}
}

// stdJSON is what encoding/json writes for v without its HTML escaping,
// with \b and \f spelled \u0008 and \u000c as AppendJSON writes them (and
// encoding/json did before Go 1.22).
func stdJSON(t *testing.T, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	std := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(std))
	for i := 0; i < len(std); i++ {
		if std[i] != '\\' {
			out = append(out, std[i])
			continue
		}
		i++
		switch std[i] {
		case 'b':
			out = append(out, `\u0008`...)
		case 'f':
			out = append(out, `\u000c`...)
		default:
			out = append(out, '\\', std[i])
		}
	}
	return out, nil
}

// TestAppendJSONStringAtEveryWordOffset puts each kind of byte that needs
// care at every offset of the first words and at the end, and compares
// with encoding/json byte for byte.
func TestAppendJSONStringAtEveryWordOffset(t *testing.T) {
	specials := []string{
		`"`, `\`, `""`, `\"`, "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", " ", "~",
		"é", "✓", "访问", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xe0\x80\x80",
		"\xf4\x90\x80\x80", "é\"", "\"é", "✓\x01\"",
	}
	for _, sp := range specials {
		for before := 0; before <= 17; before++ {
			for _, after := range []int{0, 1, 7, 8, 9} {
				s := strings.Repeat("a", before) + sp + strings.Repeat("z", after)
				want, err := stdJSON(t, s)
				if err != nil {
					t.Fatal(err)
				}
				if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
					t.Errorf("AppendJSONString(%q) = %s, want %s", s, got[1:], want)
				}
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("quote\" back\\ nl\n \x01 \xff \u2028")
	f.Add(`{"resource":"resources:articles:ladon-introduction","subjects":["users:\u003cpeter|ken\u003e"]}`)
	f.Add("unicode ✓ \"quoted\", comma\nnewline 访问被拒绝 \xed\xa0\x80")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := stdJSON(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

// FuzzAppendJSON compares whole records with encoding/json byte for byte,
// including the times it refuses.
func FuzzAppendJSON(f *testing.F) {
	f.Add(int64(1764057600), "peter", "allow", "policies p allow access", `{"a":"b\\c"}`, `[{"id":"p"}]`, "", int64(4917974400), int64(123456789), int32(0), false)
	f.Add(int64(-1), "", "\x00", "✓", "\xff", "\u2028", "\b\f", int64(-62135596800), int64(0), int32(-330*60), true)
	f.Add(int64(0), "a", "b", "c", "d", "e", "f", int64(253402300800), int64(1), int32(0), false)
	f.Fuzz(func(t *testing.T, ts int64, user, effect, conclusion, request, policies, deciders string,
		sec, nsec int64, offset int32, zoned bool) {
		at := time.Unix(sec, nsec).UTC()
		if zoned {
			offset %= 24 * 3600 // encoding/json refuses offsets of a day or more
			at = at.In(time.FixedZone("", int(offset)))
		}
		r := Record{TimeStamp: ts, Username: user, Effect: effect, Conclusion: conclusion,
			Request: request, Policies: policies, Deciders: deciders, ExpireAt: at}
		want, stdErr := stdJSON(t, r)
		got, err := AppendJSON([]byte("x"), &r)
		if (err != nil) != (stdErr != nil) {
			t.Fatalf("AppendJSON error %v, encoding/json error %v, for %+v", err, stdErr, r)
		}
		if err != nil {
			if !errors.Is(err, ErrJSONTime) || string(got) != "x" {
				t.Fatalf("AppendJSON = %q, %v; want the buffer unchanged and ErrJSONTime", got, err)
			}
			return
		}
		if string(got) != "x"+string(want) {
			t.Fatalf("AppendJSON = %s\nencoding/json %s", got[1:], want)
		}
	})
}

func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	r := Record{ExpireAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(r); err == nil {
		t.Fatal("encoding/json accepts year 10000 now: revisit AppendJSON")
	}
	if b, err := AppendJSON([]byte("x"), &r); !errors.Is(err, ErrJSONTime) || string(b) != "x" {
		t.Fatalf("AppendJSON = %q, %v; want the buffer unchanged and ErrJSONTime", b, err)
	}
}

func TestAppendJSONAppendsTheEncodingTheRecordCarries(t *testing.T) {
	r := Record{Username: "peter", Policies: "p", Deciders: "d"}
	r.JSON = []byte(`{"already":"encoded"}`)
	if got, err := AppendJSON([]byte("x"), &r); err != nil || string(got) != `x{"already":"encoded"}` {
		t.Fatalf("AppendJSON = %q, %v; want the carried bytes after x", got, err)
	}
	r.OmitDetails()
	got, err := AppendJSON(nil, &r)
	if err != nil || !strings.Contains(string(got), `"username":"peter"`) || !strings.Contains(string(got), `"policies":"","deciders":""`) {
		t.Fatalf("after OmitDetails AppendJSON = %s, %v; want the record encoded afresh without details", got, err)
	}
}

// BenchmarkAppendJSON encodes iam's golden records, one a round; the csv
// sink's BenchmarkAppendRecord encodes the same records as CSV rows.
func BenchmarkAppendJSON(b *testing.B) {
	_, raws := loadGolden(b)
	recs := make([]Record, len(raws))
	for i, raw := range raws {
		var err error
		if recs[i], err = DecodeShared(raw); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = AppendJSON(buf[:0], &recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendJSONString covers the kinds of text the fields hold, so
// that speeding up iam's JSON text does not slow down the others.
func BenchmarkAppendJSONString(b *testing.B) {
	_, raws := loadGolden(b)
	rec, err := Decode(raws[1])
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, s string }{
		{"json-text", rec.Policies},
		{"ascii-prose", strings.Repeat("policies 68819e5a-738b-41ec-b03c-b58a1b19d043 allow access. ", 8)},
		{"non-ascii-prose", strings.Repeat("Zugriff für Jürgen gewährt, 访问被拒绝 ✓. ", 8)},
		{"control-characters", strings.Repeat("line\tone\r\nline\x01two\n", 16)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(bc.s)))
			for i := 0; i < b.N; i++ {
				buf = AppendJSONString(buf[:0], bc.s)
			}
		})
	}
}
