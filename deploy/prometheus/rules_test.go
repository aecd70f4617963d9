package prometheus_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestAlertRulesPassPromtool(t *testing.T) {
	out := testutil.RunPromtool(t, ".", "check", "rules", "alerts.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	testutil.RunPromtool(t, ".", "test", "rules", "alerts_test.yml")
}

// Every alert has a unit test that sees it fire.
func TestEveryAlertIsTested(t *testing.T) {
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		fires := regexp.MustCompile(`alertname: ` + m[1] + `\n\s+exp_alerts:`)
		if !fires.Match(tests) {
			t.Errorf("alert %s has no test in alerts_test.yml that sees it fire", m[1])
		}
	}
}

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	testutil.NeedsBinary(t)
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, m := range regexp.MustCompile(`\bpump_[a-z_]+\b`).FindAllString(string(rules), -1) {
		if !slices.Contains(used, m) {
			used = append(used, m)
		}
	}
	if len(used) < 4 {
		t.Fatalf("only %v found in alerts.yml", used)
	}
	r := testutil.StartRedis(t)
	testutil.Seed(t, r.Client(), "analytics-iam-system-analytics", 0, 100)
	d := testutil.WriteConfig(t, r.Port, "  d:\n    type: dummy\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	// Timestamps of a drain are exported once the first drain is done: wait
	// for it (it may take a while on a loaded machine), not for the lease.
	p.WaitOutput(time.Minute, "drained")
	exported := testutil.ExportedMetrics(t, d.HealthAddr)
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
	for _, name := range used {
		if !exported[name] {
			t.Errorf("alerts.yml uses %s, which /metrics does not export", name)
		}
	}
}
