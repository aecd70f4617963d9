package all

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/pumps"
)

// Every shipped sink's sample (what `pump plugins TYPE` prints) is a pump
// section of its own type whose meta that sink accepts.
func TestEverySampleConfigures(t *testing.T) {
	infos := pumps.Registered()
	if len(infos) < 12 {
		t.Fatalf("only %d sinks registered", len(infos))
	}
	for _, info := range infos {
		t.Run(info.Type, func(t *testing.T) {
			var section map[string]struct {
				Type string     `yaml:"type"`
				Meta pumps.Meta `yaml:"meta"`
			}
			if err := yaml.Unmarshal([]byte(info.Sample), &section); err != nil {
				t.Fatalf("sample.yaml: %v", err)
			}
			p, ok := section[info.Type]
			if !ok || p.Type != info.Type {
				t.Fatalf("sample has no %s pump of type %s: %+v", info.Type, info.Type, section)
			}
			if err := info.New().Configure(p.Meta); err != nil {
				t.Fatalf("sample meta: %v", err)
			}
		})
	}
}
