package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/redact"
)

// RedactedMap returns the configuration as a tree fit for logging and
// `pump validate --print`, with the secrets masked by the redact package's
// rules: header values, query values, the user-info of every URL,
// passwords of DSNs and the values of keys that name a secret.
func (c Config) RedactedMap() map[string]any {
	b, err := yaml.Marshal(c)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return map[string]any{"error": err.Error()}
	}
	redact.Tree(tree)
	return tree
}
