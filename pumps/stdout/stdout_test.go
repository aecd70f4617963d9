package stdout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

func TestEachRecordIsOneLineWithThePrefix(t *testing.T) {
	var out bytes.Buffer
	s := &Stdout{out: &out}
	if err := s.Configure(pumps.Meta{"prefix": "analytics "}); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := testutil.Records(t, 0, 5)
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `analytics {"timestamp":`) || !strings.Contains(l, testutil.RecordID(i)) {
			t.Errorf("line %d = %q", i, l)
		}
	}
}

func TestARecordJSONCannotHoldIsRejectedAloneAndTheRestPrinted(t *testing.T) {
	var out bytes.Buffer
	s := &Stdout{out: &out}
	if err := s.Configure(pumps.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := testutil.Records(t, 0, 4)
	recs[1].ExpireAt = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.Write(context.Background(), recs)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) || len(rej.Rejections) != 1 || rej.Rejections[0].Index != 1 ||
		!errors.Is(rej.Rejections[0].Err, analytics.ErrJSONTime) {
		t.Fatalf("Write = %v, want record 1 rejected for its ExpireAt", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines printed, want the other 3:\n%s", len(lines), out.String())
	}
	for i, id := range []int{0, 2, 3} {
		if !strings.Contains(lines[i], testutil.RecordID(id)+`"`) {
			t.Errorf("line %d = %.80q..., want record %d", i, lines[i], id)
		}
	}
}
