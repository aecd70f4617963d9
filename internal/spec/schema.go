package spec

import (
	"reflect"
	"time"
)

// Draft is the JSON Schema dialect Schema writes.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Schema is the JSON Schema of the struct defaults points to (or is): an
// object of its keys, each with its type, help as description and the
// value in defaults as default; no other key is allowed, as the strict
// decoder allows none.
func Schema(defaults any, opts Options) map[string]any {
	return object(reflect.Indirect(reflect.ValueOf(defaults)), "", opts)
}

func object(v reflect.Value, prefix string, opts Options) map[string]any {
	props := map[string]any{}
	var required []string
	t := v.Type()
	for _, i := range fieldOrder(t) {
		f := t.Field(i)
		name := yamlName(f)
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		var s map[string]any
		if o, ok := override(opts, key); ok {
			s = o
		} else if isSection(f.Type) {
			s = object(v.Field(i), key, opts)
		} else {
			s = leafSchema(f.Type, opts)
			if d, ok := jsonDefault(v.Field(i)); ok {
				s["default"] = d
			}
		}
		if h := help(key, f, opts); h != "" {
			s["description"] = h
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
		props[name] = s
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func override(opts Options, key string) (map[string]any, bool) {
	if opts.Override == nil {
		return nil, false
	}
	return opts.Override(key)
}

// leafSchema is a fresh schema (the caller adds to it) of one key's type.
func leafSchema(t reflect.Type, opts Options) map[string]any {
	if opts.TypeSchema != nil {
		if s, ok := opts.TypeSchema(t); ok {
			return copyMap(s)
		}
	}
	if s, ok := reflect.New(t).Elem().Interface().(Schemer); ok {
		return copyMap(s.JSONSchema())
	}
	if isDuration(t) {
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "number", "minimum": 0},
			map[string]any{"type": "string"},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return leafSchema(t.Elem(), opts)
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": leafSchema(t.Elem(), opts)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": leafSchema(t.Elem(), opts)}
	}
	return map[string]any{}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// jsonDefault is a default as JSON holds it; zero lists and maps, nil
// pointers and empty strings are left out (no default to state).
func jsonDefault(v reflect.Value) (any, bool) {
	if isDuration(v.Type()) {
		return time.Duration(v.Int()).String(), true
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil, false
		}
		return jsonDefault(v.Elem())
	case reflect.String:
		return v.String(), v.String() != ""
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int(), true
	case reflect.Float64:
		return v.Float(), true
	case reflect.Slice:
		if v.Len() == 0 {
			return nil, false
		}
		out := make([]any, v.Len())
		for i := range out {
			d, _ := jsonDefault(v.Index(i))
			out[i] = d
		}
		return out, true
	}
	return nil, false
}
