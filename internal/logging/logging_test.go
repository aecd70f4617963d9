package logging

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/config"
)

// logTo writes one info and one error line with the configuration c, to a
// file, and returns the file's lines.
func logTo(t *testing.T, c config.Log) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pump.log")
	c.OutputPaths = config.StringList{path}
	log, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("holding the drain lease", zap.String("instance", "a"), zap.Duration("took", 1500*time.Millisecond))
	log.Error("redis lost", zap.String("instance", "a"))
	_ = log.Sync()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestJSONLinesCarryIAMsKeysAndTimeLayout(t *testing.T) {
	c := config.Default().Log
	c.Format = "json"
	c.DisableStacktrace = false
	before := time.Now().Add(-time.Second)
	lines := logTo(t, c)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var info, failure map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &info); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &failure); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, lines[1])
	}
	var keys []string
	for k := range info {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"caller", "instance", "level", "logger", "message", "timestamp", "took"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if info["message"] != "holding the drain lease" || info["level"] != "INFO" || info["logger"] != "pump" || info["took"] != "1.5s" {
		t.Errorf("line %s", lines[0])
	}
	if !strings.HasPrefix(info["caller"].(string), "logging/logging_test.go:") {
		t.Errorf("caller %v, want the short file:line", info["caller"])
	}
	ts, err := time.ParseInLocation(TimeLayout, info["timestamp"].(string), time.Local)
	if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) || len(info["timestamp"].(string)) != len("2006-01-02 15:04:05.000") {
		t.Errorf("timestamp %q (%v): want now as %s", info["timestamp"], err, TimeLayout)
	}
	if failure["level"] != "ERROR" || failure["stacktrace"] == nil {
		t.Errorf("error line %s: want level ERROR with a stacktrace", lines[1])
	}
}

func TestConsoleLinesStartWithIAMsTimeLayout(t *testing.T) {
	lines := logTo(t, config.Default().Log)
	stamp, rest, _ := strings.Cut(lines[0], "\t")
	if _, err := time.Parse(TimeLayout, stamp); err != nil {
		t.Errorf("console line %q does not start with a %s time: %v", lines[0], TimeLayout, err)
	}
	if !strings.HasPrefix(rest, "INFO\tpump\t") || !strings.Contains(rest, "holding the drain lease") {
		t.Errorf("console line %q", lines[0])
	}
}
