//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// scrape reads the daemon's /metrics into metric families.
func scrape(t *testing.T, addr string) map[string]*familyView {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s\n%s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics is not valid exposition text: %v", err)
	}
	out := map[string]*familyView{}
	for name, f := range fams {
		v := &familyView{values: map[string]float64{}}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			val := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			v.values[strings.Join(labels, ",")] = val
		}
		out[name] = v
	}
	return out
}

type familyView struct{ values map[string]float64 }

func (f *familyView) get(labels string) float64 {
	if f == nil {
		return -1
	}
	v, ok := f.values[labels]
	if !ok {
		return -1
	}
	return v
}

func TestMetricsAfterADrain(t *testing.T) {
	testutil.NeedsBinary(t)
	r := testutil.StartRedis(t)
	poison := seedWithPoison(t, r, 0, 3000)
	dir := t.TempDir()
	outage := filepath.Join(dir, "outage")
	writeFile(t, outage)
	pumps := "  good:\n    type: jsonl\n    filters: {skip_usernames: [user-1]}\n    meta: {path: " + filepath.Join(dir, "good.jsonl") + "}\n" +
		"  flaky:\n    type: faulty\n    max-retry-time: 200ms\n    meta: {path: " + filepath.Join(dir, "flaky.jsonl") + ", fail_while_exists: " + outage + "}\n"
	d := testutil.WriteConfig(t, r.Port, pumps, "batch-size: 500\n")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	testutil.Eventually(t, time.Minute, "drained", func() bool { return listLen(t, r, key) == 0 })

	m := scrape(t, d.HealthAddr)
	src := "source=" + key // the loop's own counts say which source
	skipped := 3000 / 7    // user-1 is every seventh record
	if 3000%7 > 1 {
		skipped++
	}
	for _, c := range []struct {
		metric, labels string
		want           float64
	}{
		{"pump_records_read_total", src, float64(3000 + len(poison))},
		{"pump_records_undecodable_total", src, float64(len(poison))},
		{"pump_records_written_total", "pump=good", float64(3000 - skipped)},
		{"pump_records_filtered_total", "pump=good", float64(skipped)},
		{"pump_records_parked_total", "pump=flaky", 3000},
		{"pump_records_written_total", "pump=flaky", 0},
		{"pump_backlog_records", "list=main,pump=," + src, 0},
		{"pump_backlog_records", "list=dead,pump=," + src, float64(len(poison))},
		{"pump_backlog_records", "list=parked,pump=flaky," + src, 3000},
		{"pump_lease_holder", src, 1},
		{"pump_lease_acquisitions_total", src, 1},
		{"pump_redis_up", src, 1},
		{"pump_batches_in_flight", src, 0},
	} {
		if got := m[c.metric].get(c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"pump_write_duration_seconds", "pump_batch_size_records", "pump_last_drain_timestamp_seconds", "pump_build_info", "go_goroutines"} {
		if m[name] == nil {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestGrafanaDashboardQueriesUseExportedMetrics(t *testing.T) {
	testutil.NeedsBinary(t)
	raw, err := os.ReadFile("../../deploy/grafana/pump.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	r := testutil.StartRedis(t)
	poison := seedWithPoison(t, r, 0, 500)
	_ = poison
	d := testutil.WriteConfig(t, r.Port, "  j:\n    type: jsonl\n    meta: {path: "+filepath.Join(t.TempDir(), "o.jsonl")+"}\n", "")
	p := testutil.StartPump(t, nil, "-c", d.ConfigPath)
	// The drain's timestamps are set once its line is logged; the list is
	// empty a moment before.
	p.WaitOutput(time.Minute, "drained")
	exported := scrape(t, d.HealthAddr)
	p.Signal(syscall.SIGTERM)
	p.Wait(time.Minute)

	name := regexp.MustCompile(`\b(pump_[a-z_]+|process_[a-z_]+)\b`)
	checked := 0
	for _, panel := range dash.Panels {
		if len(panel.Targets) == 0 {
			t.Errorf("panel %q has no query", panel.Title)
		}
		for _, target := range panel.Targets {
			for _, m := range name.FindAllString(target.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if trimmed := strings.TrimSuffix(m, suffix); trimmed != m && exported[trimmed] != nil {
						base = trimmed
					}
				}
				if exported[base] == nil {
					t.Errorf("panel %q queries %s, which /metrics does not export", panel.Title, m)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d metric references found in the dashboard", checked)
	}
}
