package stdout

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pumpd/pump/internal/testutil"
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
