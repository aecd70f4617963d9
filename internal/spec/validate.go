package spec

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Validate checks doc (as a YAML or JSON decoder builds it: maps, slices,
// strings, numbers, booleans) against schema and returns every violation,
// each naming its path. It knows the keywords Schema and `pump schema`
// write: type, properties, additionalProperties, required, items, enum,
// const, anyOf, allOf, if/then, pattern and minimum; others are ignored.
func Validate(schema map[string]any, doc any) []error {
	var errs []error
	validate(schema, doc, "", &errs)
	return errs
}

func validate(s map[string]any, v any, path string, errs *[]error) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: %s", where(path), fmt.Sprintf(format, args...)))
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		fail("want %v, got %s", t, kind(v))
		return
	}
	if c, ok := s["const"]; ok && !equal(c, v) {
		fail("want %v, got %v", c, v)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return equal(x, v) }) {
		fail("want one of %v, got %v", e, v)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isStr := v.(string); isStr {
			if re, err := regexp.Compile(p); err != nil || !re.MatchString(str) {
				fail("want a string matching %s, got %q", p, str)
			}
		}
	}
	if m, ok := s["minimum"]; ok {
		if n, isNum := number(v); isNum && n < toFloat(m) {
			fail("want at least %v, got %v", m, v)
		}
	}
	if obj, ok := asMap(v); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, has := obj[r]; !has {
				fail("missing required key %q", r)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				validate(ps, obj[k], join(path, k), errs)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unknown key %q", k)
				}
			case map[string]any:
				validate(ap, obj[k], join(path, k), errs)
			}
		}
	}
	if list, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range list {
				validate(items, x, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
	if alts := asSchemas(s["anyOf"]); len(alts) > 0 {
		matched := false
		var why []string
		for _, alt := range alts {
			var sub []error
			validate(alt, v, path, &sub)
			matched = matched || len(sub) == 0
			if len(sub) > 0 {
				why = append(why, strings.TrimPrefix(sub[0].Error(), where(path)+": "))
			}
		}
		if !matched {
			fail("matches none of: %s", strings.Join(why, "; or "))
		}
	}
	for _, sub := range asSchemas(s["allOf"]) {
		validate(sub, v, path, errs)
	}
	if cond, ok := s["if"].(map[string]any); ok {
		var sub []error
		validate(cond, v, path, &sub)
		if then, ok := s["then"].(map[string]any); ok && len(sub) == 0 {
			validate(then, v, path, errs)
		}
	}
}

func where(path string) string {
	if path == "" {
		return "(top)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
		return out
	}
	return nil
}

func asSchemas(v any) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case []map[string]any:
		return x
	case []any:
		for _, s := range x {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func typeMatches(t, v any) bool {
	switch x := t.(type) {
	case string:
		return is(x, v)
	case []string:
		return slices.ContainsFunc(x, func(s string) bool { return is(s, v) })
	case []any:
		return slices.ContainsFunc(x, func(s any) bool { return is(fmt.Sprint(s), v) })
	}
	return true
}

func is(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		n, ok := number(v)
		return ok && n == math.Trunc(n)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func kind(v any) string {
	for _, t := range []string{"null", "boolean", "string", "integer", "number", "array", "object"} {
		if is(t, v) {
			return t
		}
	}
	return fmt.Sprintf("%T", v)
}

func number(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

func toFloat(v any) float64 {
	n, _ := number(v)
	return n
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}
