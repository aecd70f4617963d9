package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/strict"
)

// EnvPrefix starts every environment override, as in iam-pump:
// IAM_PUMP_REDIS_HOST overrides redis.host.
const EnvPrefix = "IAM_PUMP_"

// Source says where the configuration comes from.
type Source struct {
	// Path of the YAML file; "" searches DefaultPaths.
	Path string
	// LookupEnv reads the environment (os.LookupEnv when nil).
	LookupEnv func(string) (string, bool)
	// Flags holds the command line; flags the user set win over everything.
	// Their names are the config keys (see AddFlags).
	Flags *pflag.FlagSet
}

// DefaultPaths are searched, in order, when no file is named.
var DefaultPaths = []string{"pump.yaml", "iam-pump.yaml", "/etc/pump/pump.yaml", "/etc/iam/iam-pump.yaml"}

// Error is a configuration error; the daemon exits 2 on it.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Load reads, expands, overrides, decodes and validates the configuration.
// Every error it returns is an *Error.
func Load(src Source) (Config, string, error) {
	cfg, path, err := load(src)
	if err != nil {
		return Config{}, path, &Error{err}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, path, &Error{err}
	}
	return cfg, path, nil
}

func load(src Source) (Config, string, error) {
	lookup := src.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	path := src.Path
	if path == "" {
		for _, p := range DefaultPaths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return Config{}, "", fmt.Errorf("no configuration file: pass -c FILE (looked for %s)", strings.Join(DefaultPaths, ", "))
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return Config{}, path, fmt.Errorf("read configuration: %w", err)
	}
	tree, err := parse(Expand(string(text), lookup))
	if err != nil {
		return Config{}, path, fmt.Errorf("%s: %w", path, err)
	}
	if err := applyEnv(tree, lookup); err != nil {
		return Config{}, path, err
	}
	if src.Flags != nil {
		if err := applyFlags(tree, src.Flags); err != nil {
			return Config{}, path, err
		}
	}
	cfg, err := decode(tree)
	return cfg, path, err
}

// Parse decodes YAML text that was already expanded (for tests and tools).
func Parse(text string) (Config, error) {
	tree, err := parse(text)
	if err != nil {
		return Config{}, err
	}
	cfg, err := decode(tree)
	if err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

func parse(text string) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	tree := map[string]any{}
	if len(doc.Content) == 0 {
		return tree, nil
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the top level must be a mapping of keys")
	}
	if err := doc.Content[0].Decode(&tree); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	return tree, nil
}

func decode(tree map[string]any) (Config, error) {
	cfg := Default()
	rawPumps, hasPumps := tree["pumps"]
	delete(tree, "pumps")
	rawSources := tree["sources"]
	delete(tree, "sources")
	if err := strict.Decode("", tree, &cfg); err != nil {
		return Config{}, err
	}
	sources, err := decodeSources(rawSources)
	if err != nil {
		return Config{}, err
	}
	cfg.Sources = sources
	if !hasPumps || rawPumps == nil {
		return cfg, nil
	}
	pumps, ok := rawPumps.(map[string]any)
	if !ok {
		return Config{}, errors.New("pumps: want a mapping of pump names to pump sections")
	}
	cfg.Pumps = make(map[string]Pump, len(pumps))
	for name, raw := range pumps {
		p := PumpDefaults()
		section, ok := raw.(map[string]any)
		if !ok && raw != nil {
			return Config{}, fmt.Errorf("pumps.%s: want a mapping with type and meta", name)
		}
		if err := strict.Decode("pumps."+name, section, &p); err != nil {
			return Config{}, err
		}
		if p.Type == "" {
			p.Type = name // as Tyk Pump does: a pump named csv is of type csv
		}
		cfg.Pumps[name] = p
	}
	logOffStdout(&cfg, tree)
	return cfg, nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Expand replaces ${VAR} and ${VAR:-default} in text. An unset VAR becomes
// its default or "". A bare $VAR is left alone: passwords contain dollars.
func Expand(text string, lookup func(string) (string, bool)) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		sub := placeholder.FindStringSubmatch(m)
		if v, ok := lookup(sub[1]); ok && (v != "" || sub[2] == "") {
			return v
		}
		return sub[3]
	})
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Keys lists every key of the static configuration (pumps and sources
// excluded), in
// dotted form, with the Go type of its value.
func Keys() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for name, idx := range strict.Fields(t) {
			f := t.FieldByIndex(idx)
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			if key == "pumps" || key == "sources" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == "github.com/pumpd/pump/config" && f.Type.Name() != "Duration" {
				walk(key, f.Type)
				continue
			}
			out[key] = f.Type
		}
	}
	walk("", reflect.TypeOf(Config{}))
	return out
}

func applyEnv(tree map[string]any, lookup func(string) (string, bool)) error {
	keys := Keys()
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		v, ok := lookup(EnvName(key))
		if !ok {
			continue
		}
		if err := setPath(tree, key, scalar(v, keys[key])); err != nil {
			return fmt.Errorf("%s (from %s): %w", key, EnvName(key), err)
		}
	}
	return nil
}

func applyFlags(tree map[string]any, flags *pflag.FlagSet) error {
	var err error
	keys := Keys()
	flags.Visit(func(f *pflag.Flag) {
		t, ok := keys[f.Name]
		if !ok || err != nil {
			return
		}
		value := f.Value.String()
		if list, ok := f.Value.(pflag.SliceValue); ok {
			value = strings.Join(list.GetSlice(), ",")
		}
		if e := setPath(tree, f.Name, scalar(value, t)); e != nil {
			err = fmt.Errorf("--%s: %w", f.Name, e)
		}
	})
	return err
}

// scalar turns an environment or flag string into the value YAML would have
// given it, so it is checked by the same rules as the file.
func scalar(s string, t reflect.Type) any {
	if t.Kind() == reflect.String {
		return s
	}
	if t.Kind() == reflect.Slice {
		return s // StringList and []string accept a comma-separated string
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil || v == nil {
		return s
	}
	return v
}

func setPath(tree map[string]any, key string, v any) error {
	parts := strings.Split(key, ".")
	m := tree
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p]
		if !ok || next == nil {
			sub := map[string]any{}
			m[p] = sub
			m = sub
			continue
		}
		sub, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not a mapping", strings.Join(parts[:i+1], "."))
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
	return nil
}
