package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

const goldenDir = "../../shared/testdata/iam-records"

type golden struct {
	File   string `json:"file"`
	Record Record `json:"record"`
}

func loadGolden(t testing.TB) ([]golden, [][]byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenDir, "expected.json"))
	if err != nil {
		t.Fatalf("golden records: %v", err)
	}
	var want []golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(want))
	for i, g := range want {
		if raws[i], err = os.ReadFile(filepath.Join(goldenDir, g.File)); err != nil {
			t.Fatal(err)
		}
	}
	return want, raws
}

func sameRecord(a, b Record) bool {
	return a.TimeStamp == b.TimeStamp && a.Username == b.Username && a.Effect == b.Effect &&
		a.Conclusion == b.Conclusion && a.Request == b.Request && a.Policies == b.Policies &&
		a.Deciders == b.Deciders && a.ExpireAt.Equal(b.ExpireAt)
}

func TestDecodeGoldenRecordsFromIAM(t *testing.T) {
	want, raws := loadGolden(t)
	for i, g := range want {
		t.Run(g.File, func(t *testing.T) {
			got, err := Decode(raws[i])
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !sameRecord(got, g.Record) {
				t.Errorf("Decode = %+v\nwant %+v", got, g.Record)
			}
			if !bytes.Equal(got.Raw, raws[i]) {
				t.Error("Raw does not hold the original bytes")
			}
			if got.ExpireAt.Location() != time.UTC {
				t.Errorf("ExpireAt in %v, want UTC", got.ExpireAt.Location())
			}
		})
	}
}

func TestEncodeMatchesIAMBytes(t *testing.T) {
	_, raws := loadGolden(t)
	for i, raw := range raws {
		rec, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := Encode(&rec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(enc)
		if err != nil || !sameRecord(back, rec) {
			t.Errorf("record %d: re-encoded bytes decode to %+v, %v", i+1, back, err)
		}
	}
}

func TestDecodeRejectsWhatIsNotAnIAMRecord(t *testing.T) {
	_, raws := loadGolden(t)
	full := raws[0]
	tyk, _ := msgpack.Marshal(map[string]any{"Method": "GET", "TimeStamp": time.Now(), "Username": "x"})
	noFields, _ := msgpack.Marshal(map[string]any{})
	badType, _ := msgpack.Marshal(map[string]any{
		"TimeStamp": "yesterday", "Username": "u", "Effect": "allow", "Conclusion": "", "Request": "",
		"Policies": "", "Deciders": "", "ExpireAt": time.Now(),
	})
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty element", nil, "empty element"},
		{"plain text", []byte("hello world"), "want a map"},
		{"json instead of msgpack", []byte(`{"username":"peter"}`), "want a map"},
		{"truncated", full[:len(full)/2], "unexpected end of data"},
		{"trailing bytes", append(append([]byte{}, full...), 0x01), "1 trailing bytes"},
		{"empty map", noFields, "missing fields [TimeStamp Username"},
		{"a tyk record", tyk, "field \"TimeStamp\": want an integer"},
		{"timestamp as a string", badType, "want an integer"},
		{"map claims more entries than bytes", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, "map of 4294967295 entries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Decode(tc.raw)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v", rec)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestDecodeSkipsUnknownFields(t *testing.T) {
	type newerRecord struct {
		Record
		Latency int64
		Tags    []string
		Extra   map[string]any
	}
	in := newerRecord{
		Record:  Record{TimeStamp: 7, Username: "u", Effect: "allow", ExpireAt: time.Unix(5, 6)},
		Latency: 1 << 40, Tags: []string{"a", "b"}, Extra: map[string]any{"k": []any{1.5, nil, true}},
	}
	raw, err := msgpack.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !sameRecord(got, in.Record) {
		t.Errorf("got %+v, want %+v", got, in.Record)
	}
}

// FuzzDecode checks the hand-written decoder never panics and agrees with
// the msgpack library on every input both accept.
func FuzzDecode(f *testing.F) {
	_, raws := loadGolden(f)
	for _, raw := range raws {
		f.Add(raw)
	}
	f.Add([]byte{0x80})
	f.Add([]byte{0xc7, 0x0c, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Decode(raw)
		shared, sharedErr := DecodeShared(append([]byte{}, raw...))
		if (err == nil) != (sharedErr == nil) || err == nil && !sameRecord(got, shared) {
			t.Fatalf("Decode = %+v, %v; DecodeShared = %+v, %v", got, err, shared, sharedErr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var lib Record
		if libErr := msgpack.Unmarshal(raw, &lib); libErr != nil {
			return
		}
		if !sameRecord(got, lib) {
			t.Fatalf("Decode = %+v, msgpack library = %+v", got, lib)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	_, raws := loadGolden(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(raws[i%len(raws)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeShared(b *testing.B) {
	_, raws := loadGolden(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeShared(raws[i%len(raws)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMsgpackLibrary(b *testing.B) {
	_, raws := loadGolden(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var r Record
		if err := msgpack.Unmarshal(raws[i%len(raws)], &r); err != nil {
			b.Fatal(err)
		}
	}
}
