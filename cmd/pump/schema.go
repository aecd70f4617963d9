package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
	settings "github.com/pumpd/pump/internal/spec"
	"github.com/pumpd/pump/pumps"
)

// pumpKeyHelp describes the keys of a pumps.<name> section other than meta
// (the config package declares them without flags, so without help).
var pumpKeyHelp = map[string]string{
	"type":                    "sink type (pump plugins); default: the section's name",
	"meta":                    "the sink's own settings (pump plugins TYPE)",
	"filters.usernames":       "only these users' records",
	"filters.skip_usernames":  "not these users' records",
	"filters.expr":            "only the records this boolean expression passes",
	"timeout":                 "seconds one write may take (0: the default)",
	"omit-detailed-recording": "blank policies and deciders for this pump",
	"max-retry-time":          "retry budget of a failing write before its records are parked",
	"workers":                 "batches of this pump written at once (1-64), for sinks whose batches may land in any order (pumps.Concurrent)",
}

// sourceKeyHelp describes the keys of one sources[i].
var sourceKeyHelp = map[string]string{
	"key":            "the Redis list or stream to drain",
	"mode":           "list (one instance at a time, under a lease) or streams (a consumer group)",
	"format":         "the records' encoding: iam",
	"group":          "streams: the consumer group; instances in one group share its entries",
	"field":          "streams: the entry field that holds the record",
	"claim-idle":     "streams: take over an entry pending this long at another consumer; above every fed pump's write timeout",
	"max-deliveries": "streams: an entry delivered more often goes to the dead list with its delivery count",
	"pumps":          "the pumps this source feeds (none: every pump)",
}

func cmdSchema(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("schema", pflag.ContinueOnError)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "pump: schema takes no arguments, got %q\nRun 'pump schema --help' for usage.\n", fs.Args())
		return exitConfig
	}
	out, err := json.MarshalIndent(configSchema(), "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "pump: schema: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return exitOK
}

// configSchema is the JSON Schema (draft 2020-12) of the configuration
// file: the keys of config.Config with their defaults and help, and under
// pumps.<name> the keys of a pump section, whose meta is the Config of the
// sink its type names.
func configSchema() map[string]any {
	top := settings.Schema(config.Default(), settings.Options{
		Help:       config.KeyHelp,
		TypeSchema: configTypeSchema,
		Override: func(key string) (map[string]any, bool) {
			switch key {
			case "pumps":
				return map[string]any{"type": "object", "additionalProperties": pumpSchema()}, true
			case "sources":
				item := settings.Schema(config.InputDefaults(), settings.Options{
					Help: func(key string) string { return sourceKeyHelp[key] }, TypeSchema: configTypeSchema})
				item["required"] = []any{"key"}
				return map[string]any{"type": "array", "items": item,
					"description": "what to drain: lists and streams, each with its own lease or group, dead and parked lists; none: the list analytics-key"}, true
			}
			return nil, false
		},
	})
	top["$schema"] = settings.Draft
	top["title"] = "pump configuration"
	allowEnvRefs(top)
	return top
}

// envRef is a ${VAR} or ${VAR:-default} reference, which the loader expands
// in the file's text before it parses it: a number or a boolean may be one.
var envRef = map[string]any{"type": "string", "pattern": `^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$`}

// allowEnvRefs lets every number, integer and boolean of s be an envRef.
func allowEnvRefs(s map[string]any) {
	for _, key := range []string{"additionalProperties", "items", "then"} {
		if sub, ok := s[key].(map[string]any); ok {
			allowEnvRefs(sub)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if sub, ok := p.(map[string]any); ok {
				allowEnvRefs(sub)
			}
		}
	}
	for _, key := range []string{"allOf", "anyOf"} {
		if list, ok := s[key].([]any); ok {
			for _, x := range list {
				if sub, ok := x.(map[string]any); ok {
					allowEnvRefs(sub)
				}
			}
		}
	}
	// Last, so that the alternatives made here are not walked again.
	switch s["type"] {
	case "integer", "number", "boolean":
		if _, has := s["anyOf"]; !has {
			s["anyOf"] = []any{map[string]any{"type": s["type"]}, envRef}
			delete(s, "type")
		}
	}
}

// pumpSchema is one pumps.<name> section: its meta is checked against the
// sink whose type the section names (if/then, one per sink type).
func pumpSchema() map[string]any {
	s := settings.Schema(config.PumpDefaults(), settings.Options{
		Help:       func(key string) string { return pumpKeyHelp[key] },
		TypeSchema: configTypeSchema,
		Override: func(key string) (map[string]any, bool) {
			if key == "meta" {
				return map[string]any{"type": "object"}, true
			}
			return nil, false
		},
	})
	props := s["properties"].(map[string]any)
	typ := props["type"].(map[string]any)
	var types []any
	var cases []any
	for _, info := range pumps.Registered() {
		types = append(types, info.Type)
		meta := settings.Schema(info.Config(info.New()), settings.Options{})
		meta["description"] = info.Description
		cases = append(cases, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": info.Type}}, "required": []any{"type"}},
			"then": map[string]any{"properties": map[string]any{"meta": meta}},
		})
	}
	typ["enum"] = types
	s["allOf"] = cases
	return s
}

// configTypeSchema says how the config package's own value types are
// written (pumps.Duration, config.Duration's type, says so itself).
func configTypeSchema(t reflect.Type) (map[string]any, bool) {
	switch t {
	case reflect.TypeOf(config.ByteSize(0)):
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string"},
		}}, true
	case reflect.TypeOf(config.StringList(nil)):
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}}, true
	}
	return nil, false
}
