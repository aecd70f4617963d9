package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/strict"
)

// Field is one key of a settings struct; nested structs give dotted keys.
type Field struct {
	Key      string // bulk_config.workers
	Type     string // for people: string, integer, boolean, duration, list, map
	Default  string // as YAML would write it; empty when there is none
	Help     string
	Required bool
}

// Schemer is a type that says how it is written in YAML (a duration as
// "30s" or seconds, a list as one comma-separated string or a sequence).
type Schemer interface {
	JSONSchema() map[string]any
}

// Options adapts the walk to a struct whose help is kept elsewhere (the
// top-level configuration's is beside its flags).
type Options struct {
	// Help returns the help of a dotted key; the help tag wins.
	Help func(key string) string
	// Override gives the schema of a key instead of the walk's (the pumps
	// map, whose meta depends on the type); nil: none.
	Override func(key string) (map[string]any, bool)
	// TypeSchema gives the schema of a type that cannot carry a
	// JSONSchema method here (it is another package's); nil: none.
	TypeSchema func(t reflect.Type) (map[string]any, bool)
}

// isDuration: a named int64 duration (pumps.Duration, time.Duration).
func isDuration(t reflect.Type) bool {
	return t.Kind() == reflect.Int64 && strings.HasSuffix(t.Name(), "Duration")
}

// Fields lists the keys of the struct defaults points to (or is), in
// declaration order, with the values in it as their defaults.
func Fields(defaults any, opts Options) []Field {
	var out []Field
	v := reflect.Indirect(reflect.ValueOf(defaults))
	walk(v, "", opts, func(key string, f reflect.StructField, fv reflect.Value) {
		out = append(out, Field{
			Key:      key,
			Type:     typeName(f.Type),
			Default:  render(fv),
			Help:     help(key, f, opts),
			Required: f.Tag.Get("required") == "true",
		})
	})
	return out
}

// walk calls leaf for every key of v, descending into nested structs of
// plain fields (not those that decode themselves).
func walk(v reflect.Value, prefix string, opts Options, leaf func(string, reflect.StructField, reflect.Value)) {
	t := v.Type()
	for _, i := range fieldOrder(t) {
		f := t.Field(i)
		key := yamlName(f)
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := v.Field(i)
		if isSection(f.Type) {
			walk(fv, key, opts, leaf)
			continue
		}
		leaf(key, f, fv)
	}
}

// fieldOrder is the struct's exported, named fields in declaration order.
func fieldOrder(t reflect.Type) []int {
	byIndex := strict.Fields(t)
	var idx []int
	for _, path := range byIndex {
		idx = append(idx, path[0])
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// isSection reports whether a field is a nested block of keys.
func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	if _, ok := reflect.New(t).Interface().(Schemer); ok {
		return false
	}
	_, unmarshals := reflect.New(t).Interface().(yaml.Unmarshaler)
	return !unmarshals
}

func help(key string, f reflect.StructField, opts Options) string {
	if h := f.Tag.Get("help"); h != "" {
		return h
	}
	if opts.Help != nil {
		return opts.Help(key)
	}
	return ""
}

func typeName(t reflect.Type) string {
	if isDuration(t) {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		if t.Name() == "ByteSize" {
			return "size"
		}
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "map of " + typeName(t.Elem()) + "s"
	case reflect.Struct:
		return "object"
	}
	return t.String()
}

// render writes a default as the YAML file would; zero lists, maps, nil
// pointers and empty strings have none.
func render(v reflect.Value) string {
	if isDuration(v.Type()) {
		return time.Duration(v.Int()).String()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok && v.Kind() != reflect.Pointer {
		return s.String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return render(v.Elem())
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		return fmt.Sprint(v.Interface())
	}
	return fmt.Sprint(v.Interface())
}
