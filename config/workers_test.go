package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
)

// concurrentSink is a pumps.Concurrent sink for the workers key's checks.
type concurrentSink struct{}

func (concurrentSink) Configure(pumps.Meta) error                      { return nil }
func (concurrentSink) Init(context.Context) error                      { return nil }
func (concurrentSink) Write(context.Context, []analytics.Record) error { return nil }
func (concurrentSink) Close(context.Context) error                     { return nil }
func (concurrentSink) WritesConcurrently()                             {}

func init() {
	pumps.Register(pumps.Info{Type: "config-test-concurrent", New: func() pumps.Sink { return concurrentSink{} },
		Config: func(pumps.Sink) any { return &struct{}{} }})
}

func TestWorkersOnlyForConcurrentSinks(t *testing.T) {
	for _, tc := range []struct {
		name, pump string
		want       int    // the loaded workers, when it loads
		err        string // the error's text, when it must not
	}{
		{"default", "{type: csv, meta: {csv_dir: /tmp}}", 1, ""},
		{"one for any sink", "{type: csv, meta: {csv_dir: /tmp}, workers: 1}", 1, ""},
		{"several for a concurrent sink", "{type: config-test-concurrent, workers: 8}", 8, ""},
		{"several for a sink that writes one batch at a time", "{type: csv, meta: {csv_dir: /tmp}, workers: 2}", 0,
			"pumps.p.workers: the csv sink writes one batch at a time"},
		{"none", "{type: config-test-concurrent, workers: 0}", 0, "pumps.p.workers: must be between 1 and 64, got 0"},
		{"too many", "{type: config-test-concurrent, workers: 65}", 0, "pumps.p.workers: must be between 1 and 64, got 65"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pump.yaml")
			if err := os.WriteFile(path, []byte("pumps: {p: "+tc.pump+"}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Load(Source{Path: path, LookupEnv: env(nil)})
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Load: %v, want an error with %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.err == "" && cfg.Pumps["p"].Workers != tc.want:
				t.Fatalf("workers %d, want %d", cfg.Pumps["p"].Workers, tc.want)
			}
		})
	}
}
