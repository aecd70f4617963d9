package all

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/spec"
	"github.com/pumpd/pump/pumps"
)

var update = flag.Bool("update", false, "rewrite the sinks' README tables from their Config structs (make docs)")

// sampleMeta is the meta of the pump section in info's sample.
func sampleMeta(t *testing.T, info pumps.Info) pumps.Meta {
	t.Helper()
	var section map[string]struct {
		Meta pumps.Meta `yaml:"meta"`
	}
	if err := yaml.Unmarshal([]byte(info.Sample), &section); err != nil {
		t.Fatalf("sample.yaml: %v", err)
	}
	return section[info.Type].Meta
}

// The defaults the spec shows are the ones Configure leaves in place: a
// sink configured with only its required keys (taken from its sample) ends
// with every other key at the value its fresh Config holds.
func TestSpecDefaultsAreWhatConfigureApplies(t *testing.T) {
	for _, info := range pumps.Registered() {
		t.Run(info.Type, func(t *testing.T) {
			defaults := info.Config(info.New())
			fields := spec.Fields(defaults, spec.Options{})
			sample := sampleMeta(t, info)
			minimal := pumps.Meta{}
			for _, f := range fields {
				if f.Help == "" {
					t.Errorf("meta.%s has no help tag", f.Key)
				}
				if !f.Required {
					continue
				}
				v, ok := sample[f.Key]
				if !ok {
					t.Fatalf("the sample lacks the required key %s", f.Key)
				}
				minimal[f.Key] = v
			}
			s := info.New()
			if err := s.Configure(minimal); err != nil {
				t.Fatalf("Configure with only the required keys %v: %v", minimal, err)
			}
			got := reflect.ValueOf(info.Config(s))
			want := reflect.ValueOf(defaults)
			for _, f := range fields {
				if f.Required {
					continue
				}
				g, w := fieldAt(t, got, f.Key), fieldAt(t, want, f.Key)
				if !reflect.DeepEqual(g.Interface(), w.Interface()) {
					t.Errorf("meta.%s: the spec says the default is %v, Configure applied %v", f.Key, deref(w), deref(g))
				}
			}
		})
	}
}

// A required key is required: Configure without it fails.
func TestConfigureRefusesAMetaWithoutARequiredKey(t *testing.T) {
	for _, info := range pumps.Registered() {
		sample := sampleMeta(t, info)
		for _, f := range spec.Fields(info.Config(info.New()), spec.Options{}) {
			if !f.Required {
				continue
			}
			t.Run(info.Type+"/"+f.Key, func(t *testing.T) {
				meta := pumps.Meta{}
				for k, v := range sample {
					if k != f.Key {
						meta[k] = v
					}
				}
				if err := info.New().Configure(meta); err == nil {
					t.Fatalf("Configure without %s succeeded", f.Key)
				}
			})
		}
	}
}

func fieldAt(t *testing.T, v reflect.Value, key string) reflect.Value {
	t.Helper()
	for _, part := range strings.Split(key, ".") {
		found := false
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			t.Fatalf("no field for %s", key)
		}
	}
	return v
}

func deref(v reflect.Value) any {
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return v.Interface()
}

// Each sink's README carries the table of its settings as its Config
// declares them; make docs (go test -run this -update) rewrites it.
func TestSinkREADMEsMatchTheirConfig(t *testing.T) {
	for _, info := range pumps.Registered() {
		t.Run(info.Type, func(t *testing.T) {
			path := filepath.Join("..", info.Type, "README.md")
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			table := spec.Table(spec.Fields(info.Config(info.New()), spec.Options{}))
			want, err := spec.ReplaceBlock(string(doc), table)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if want == string(doc) {
				return
			}
			if *update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Errorf("%s: its meta table differs from the Config struct; run make docs", path)
		})
	}
}
