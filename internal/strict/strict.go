package strict

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode copies the values of m into the struct dst points to, matching keys
// against the fields' yaml tags. prefix names m in errors ("pumps.csv.meta").
// Fields of dst that m lacks keep their value, so defaults set before the
// call survive.
func Decode(prefix string, m map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("strict: destination %T is not a pointer to a struct", dst)
	}
	fields := Fields(rv.Elem().Type())
	for _, k := range slices.Sorted(maps.Keys(m)) {
		idx, ok := fields[k]
		if !ok {
			return UnknownKey(join(prefix, k), k, fieldNames(fields))
		}
		if err := assign(join(prefix, k), rv.Elem().FieldByIndex(idx), m[k]); err != nil {
			return err
		}
	}
	return nil
}

// Fields maps the yaml names of t's exported fields to their index paths,
// descending into fields tagged ",inline".
func Fields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, idx := range Fields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

// assign sets field from v. Nested structs and maps of structs are decoded
// key by key so errors carry the whole path; leaves go through YAML so the
// field's own yaml rules (and UnmarshalYAML methods) apply.
func assign(path string, field reflect.Value, v any) error {
	if sub, ok := v.(map[string]any); ok {
		switch {
		case field.Kind() == reflect.Struct && !hasUnmarshaler(field):
			return Decode(path, sub, field.Addr().Interface())
		case field.Kind() == reflect.Map && field.Type().Key().Kind() == reflect.String &&
			field.Type().Elem().Kind() == reflect.Struct && !hasUnmarshaler(reflect.New(field.Type().Elem()).Elem()):
			if field.IsNil() {
				field.Set(reflect.MakeMap(field.Type()))
			}
			for k, ev := range sub {
				elem := reflect.New(field.Type().Elem()).Elem()
				if old := field.MapIndex(reflect.ValueOf(k)); old.IsValid() {
					elem.Set(old)
				}
				if err := assign(join(path, k), elem, ev); err != nil {
					return err
				}
				field.SetMapIndex(reflect.ValueOf(k).Convert(field.Type().Key()), elem)
			}
			return nil
		}
	}
	if err := assignLeaf(field, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func hasUnmarshaler(v reflect.Value) bool {
	_, ok := v.Addr().Interface().(yaml.Unmarshaler)
	return ok
}

func assignLeaf(field reflect.Value, v any) error {
	if v == nil {
		return nil // a key with no value keeps the default
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("unusable value: %w", err)
	}
	ptr := reflect.New(field.Type())
	ptr.Elem().Set(field)
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil {
		return fmt.Errorf("unusable value: %w", err)
	}
	if err := node.Decode(ptr.Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("want %s, got %s", describe(field.Type()), describeValue(v))
		}
		return err
	}
	field.Set(ptr.Elem())
	return nil
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t.String() == "time.Duration" {
			return "a duration such as 30s"
		}
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ")
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%v", v)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func fieldNames(fields map[string][]int) []string {
	return slices.Sorted(maps.Keys(fields))
}

// UnknownKey is the error for a key that is not one of known, suggesting the
// nearest known key when one is close enough to be a typo.
func UnknownKey(path, key string, known []string) error {
	if s := Nearest(key, known); s != "" {
		return fmt.Errorf("%s: unknown key (did you mean %q?)", path, s)
	}
	return fmt.Errorf("%s: unknown key", path)
}

// Nearest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be a typo of it.
func Nearest(s string, candidates []string) string {
	best, bestDist := "", max(2, len(s)/3+1)
	for _, c := range candidates {
		if d := distance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the edit distance counting a swap of neighbours as one edit
// (optimal string alignment), the commonest typo.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
