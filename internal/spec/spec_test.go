package spec

import (
	"strings"
	"testing"
	"time"
)

type testDuration int64

func (d testDuration) String() string { return time.Duration(d).String() }

type inner struct {
	Workers int `yaml:"workers" help:"in flight"`
}

type sample struct {
	Dir     string            `yaml:"dir" help:"where" required:"true"`
	Timeout testDuration      `yaml:"timeout" help:"how long"`
	Tags    map[string]string `yaml:"tags" help:"labels"`
	Sync    *bool             `yaml:"sync" help:"durable"`
	Bulk    inner             `yaml:"bulk"`
	hidden  int               // unexported: not a key
}

func defaults() sample {
	yes := true
	return sample{Timeout: testDuration(10 * time.Second), Sync: &yes, Bulk: inner{Workers: 2}}
}

func TestFieldsReadTagsAndDefaultsInOrder(t *testing.T) {
	got := Fields(defaults(), Options{})
	want := []Field{
		{Key: "dir", Type: "string", Help: "where", Required: true},
		{Key: "timeout", Type: "duration", Default: "10s", Help: "how long"},
		{Key: "tags", Type: "map of strings", Help: "labels"},
		{Key: "sync", Type: "boolean", Default: "true", Help: "durable"},
		{Key: "bulk.workers", Type: "integer", Default: "2", Help: "in flight"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSchemaValidatesWhatTheStructAccepts(t *testing.T) {
	s := Schema(defaults(), Options{})
	ok := map[string]any{"dir": "x", "timeout": "5s", "tags": map[string]any{"a": "b"}, "bulk": map[string]any{"workers": 3}}
	if errs := Validate(s, ok); len(errs) != 0 {
		t.Errorf("a good document: %v", errs)
	}
	for doc, want := range map[string]map[string]any{
		`missing required key "dir"`:      {"timeout": "5s"},
		`unknown key "dri"`:               {"dir": "x", "dri": "y"},
		"bulk.workers: want integer":      {"dir": "x", "bulk": map[string]any{"workers": "two"}},
		"tags.a: want string":             {"dir": "x", "tags": map[string]any{"a": 1}},
		"sync: want boolean, got integer": {"dir": "x", "sync": 1},
	} {
		var all []string
		for _, e := range Validate(s, want) {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), doc) {
			t.Errorf("want an error containing %q, got %q", doc, all)
		}
	}
}
