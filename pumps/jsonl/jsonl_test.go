package jsonl

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

func TestGoldenRecordsAsJSONLinesWithIAMNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	j := &JSONL{}
	if err := j.Configure(pumps.Meta{"path": path}); err != nil {
		t.Fatal(err)
	}
	if err := j.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	golden := testutil.GoldenRecords(t)
	for i := 0; i < 2; i++ { // appends, never truncates
		if err := j.Write(context.Background(), testutil.GoldenDecoded(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2*len(golden) {
		t.Fatalf("%d lines, want %d", len(lines), 2*len(golden))
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		for _, k := range []string{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expireAt"} {
			if _, ok := got[k]; !ok {
				t.Errorf("line %d lacks iam's field %q", i, k)
			}
		}
		var rec analytics.Record
		_ = json.Unmarshal([]byte(line), &rec)
		want := golden[i%len(golden)].Expected
		if rec.Username != want.Username || rec.Request != want.Request || !rec.ExpireAt.Equal(want.ExpireAt) {
			t.Errorf("line %d = %+v, want %+v", i, rec, want)
		}
	}
}

func TestConfigureNeedsAPath(t *testing.T) {
	for meta, want := range map[string]pumps.Meta{
		"meta.path: must name the file": {},
		"meta.pth: unknown key":         {"pth": "/x"},
	} {
		if err := (&JSONL{}).Configure(want); err == nil || !strings.Contains(err.Error(), meta) {
			t.Errorf("Configure(%v) = %v, want %q", want, err, meta)
		}
	}
}

func TestARecordJSONCannotHoldIsRejectedAloneAndTheRestWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	j := &JSONL{}
	if err := j.Configure(pumps.Meta{"path": path, "fsync": false}); err != nil {
		t.Fatal(err)
	}
	if err := j.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	batch := testutil.Records(t, 0, 3)
	batch[1].ExpireAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	err := j.Write(context.Background(), batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejections) != 1 || rej.Rejections[0].Index != 1 {
		t.Fatalf("Write = %v, want record 1 rejected", err)
	}
	if got := testutil.CountLines(t, path); got != 2 {
		t.Fatalf("%d lines written, want the other 2", got)
	}
}

func TestReopenLetsGoOfARenamedFileAndTheNextBatchGoesToThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	j := testutil.StartSink(t, &JSONL{}, pumps.Meta{"path": path})
	if err := j.Write(context.Background(), testutil.Records(t, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := j.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(context.Background(), testutil.Records(t, 3, 5)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.CountLines(t, path+".1"); got != 3 {
		t.Errorf("the renamed file has %d lines, want the first 3 and nothing after", got)
	}
	if got := testutil.CountLines(t, path); got != 2 {
		t.Errorf("the file at the path has %d lines, want the 2 written after Reopen", got)
	}
}
