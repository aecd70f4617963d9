package testutil

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pumpd/pump/analytics"
)

// Golden is one record encoded by iam's own encoder, from
// shared/testdata/iam-records beside the repository.
type Golden struct {
	File     string
	Raw      []byte           // the element's bytes, as iam pushes them
	Record   analytics.Record // Raw decoded
	Expected analytics.Record // what expected.json says Raw holds
}

var (
	goldenOnce sync.Once
	golden     []Golden
	goldenErr  error
)

// GoldenDir is the directory of the golden records.
func GoldenDir(t testing.TB) string {
	return filepath.Join(ModuleRoot(t), "..", "shared", "testdata", "iam-records")
}

// GoldenRecords loads the golden records (once per test process).
func GoldenRecords(t testing.TB) []Golden {
	t.Helper()
	goldenOnce.Do(func() { golden, goldenErr = loadGolden(GoldenDir(t)) })
	if goldenErr != nil {
		t.Fatalf("golden records: %v", goldenErr)
	}
	return golden
}

func loadGolden(dir string) ([]Golden, error) {
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		return nil, err
	}
	var files []struct {
		File   string           `json:"file"`
		Record analytics.Record `json:"record"`
	}
	if err := json.Unmarshal(b, &files); err != nil {
		return nil, err
	}
	out := make([]Golden, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			return nil, err
		}
		rec, err := analytics.Decode(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, Golden{File: f.File, Raw: raw, Record: rec, Expected: f.Record})
	}
	return out, nil
}

// GoldenRaw returns the golden records' bytes.
func GoldenRaw(t testing.TB) [][]byte {
	var out [][]byte
	for _, g := range GoldenRecords(t) {
		out = append(out, g.Raw)
	}
	return out
}

// GoldenDecoded returns the golden records as decoded from their bytes.
func GoldenDecoded(t testing.TB) []analytics.Record {
	var out []analytics.Record
	for _, g := range GoldenRecords(t) {
		out = append(out, g.Record)
	}
	return out
}

// GoldenExpected returns what expected.json says the golden records hold.
func GoldenExpected(t testing.TB) []analytics.Record {
	var out []analytics.Record
	for _, g := range GoldenRecords(t) {
		out = append(out, g.Expected)
	}
	return out
}

// Records returns the seeded records from..to-1 as the loop hands them to a
// sink: decoded from their wire bytes, Raw set.
func Records(t testing.TB, from, to int) []analytics.Record {
	t.Helper()
	out := make([]analytics.Record, 0, to-from)
	for i := from; i < to; i++ {
		rec, err := analytics.Decode(EncodedRecord(t, i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// SameRecord reports whether a and b hold the same decision: every field
// equal, ExpireAt as an instant (zones differ across encodings), Raw ignored.
func SameRecord(a, b analytics.Record) bool {
	return a.TimeStamp == b.TimeStamp && a.Username == b.Username && a.Effect == b.Effect &&
		a.Conclusion == b.Conclusion && a.Request == b.Request && a.Policies == b.Policies &&
		a.Deciders == b.Deciders && a.ExpireAt.Equal(b.ExpireAt)
}

// PushGolden RPUSHes the golden records onto the analytics list, as iam's
// servers would.
func PushGolden(t testing.TB, r *Redis) {
	t.Helper()
	for _, raw := range GoldenRaw(t) {
		if err := r.Client().RPush(context.Background(), analytics.DefaultKey, raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
}
