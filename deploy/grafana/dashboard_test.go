package grafana_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/testing/testutil"
)

type sample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// The shared lists' backlog as every instance exports it: the holder and a
// standby read the same Redis lists, of two sources.
var backlogSeries = func() []map[string]string {
	var out []map[string]string
	for _, instance := range []string{"a:7070", "b:7070"} {
		for _, s := range []struct{ source, list, pump, value string }{
			{"s1", "main", "", "100"}, {"s1", "dead", "", "3"}, {"s1", "parked", "csv", "5"}, {"s1", "parked", "kafka", "7"},
			{"s2", "main", "", "50"}, {"s2", "dead", "", "1"}, {"s2", "parked", "csv", "2"},
		} {
			out = append(out, map[string]string{
				"series": `pump_backlog_records{instance="` + instance + `",job="pump",list="` + s.list + `",pump="` + s.pump + `",source="` + s.source + `"}`,
				"values": s.value + "x10",
			})
		}
	}
	return out
}()

// What each panel over the backlog must show with two instances: each
// source's backlog once, not twice, and the sources apart.
var wantBacklog = map[string][]sample{
	"Backlog (main list)": {{"{}", 150}},
	"Dead letters":        {{"{}", 4}},
	"Parked records":      {{"{}", 14}},
	"Backlog": {
		{`{list="main", source="s1"}`, 100}, {`{list="dead", source="s1"}`, 3},
		{`{list="parked", pump="csv", source="s1"}`, 5}, {`{list="parked", pump="kafka", source="s1"}`, 7},
		{`{list="main", source="s2"}`, 50}, {`{list="dead", source="s2"}`, 1}, {`{list="parked", pump="csv", source="s2"}`, 2},
	},
}

func TestBacklogPanelsCountTheSharedListsOnce(t *testing.T) {
	raw, err := os.ReadFile("pump.json")
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
		t.Fatalf("pump.json: %v", err)
	}
	var exprTests []map[string]any
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			if !strings.Contains(target.Expr, "pump_backlog_records") {
				continue
			}
			want, ok := wantBacklog[p.Title]
			if !ok {
				t.Errorf("panel %q queries the backlog; say in wantBacklog what it must show", p.Title)
				continue
			}
			seen[p.Title] = true
			exprTests = append(exprTests, map[string]any{
				"expr":        strings.ReplaceAll(target.Expr, "$instance", ".*"),
				"eval_time":   "5m",
				"exp_samples": want,
			})
		}
	}
	for title := range wantBacklog {
		if !seen[title] {
			t.Errorf("no panel %q over the backlog in pump.json", title)
		}
	}
	doc, err := yaml.Marshal(map[string]any{
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":         "1m",
			"input_series":     backlogSeries,
			"promql_expr_test": exprTests,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard_test.yml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.RunPromtool(t, dir, "test", "rules", "dashboard_test.yml")
}
