package config

import (
	"strings"
	"testing"
	"time"
)

func TestProgressInterval(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{"", 10 * time.Second, ""},
		{"progress-interval: 30s\n", 30 * time.Second, ""},
		{"progress-interval: 5\n", 5 * time.Second, ""},
		{"progress-interval: 0\n", 0, ""},
		{"progress-interval: -1s\n", 0, "progress-interval: must be 0 (off) or more, got -1s"},
	} {
		cfg, err := Parse(tc.yaml + "pumps: {d: {type: dummy}}\n")
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case cfg.ProgressInterval.D() != tc.want:
			t.Errorf("%q: progress-interval %v, want %v", tc.yaml, cfg.ProgressInterval.D(), tc.want)
		}
	}
}
