package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	settings "github.com/pumpd/pump/internal/spec"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func yamlDoc(t *testing.T, text string) any {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every shipped configuration passes the schema editors are given.
func TestSchemaAcceptsTheShippedConfigurations(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), "configs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs/*.yaml: %v", err)
	}
	schema := configSchema()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range settings.Validate(schema, yamlDoc(t, string(text))) {
				t.Error(e)
			}
		})
	}
}

// What the loader refuses, the schema refuses too, at the same key.
func TestSchemaRefusesBadKeysNamingThem(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown top-level key", "purge_delay: 10\n", `(top): unknown key "purge_delay"`},
		{"wrong type", "batch-size: many\n", "batch-size: matches none of: want integer, got string"},
		{"unknown redis key", "redis: {hots: x}\n", `redis: unknown key "hots"`},
		{"unknown sink type", "pumps: {a: {type: csvv}}\n", "pumps.a.type: want one of"},
		{"unknown meta key of the sink named", "pumps: {a: {type: csv, meta: {csv_dir: x, csvdir: y}}}\n", `pumps.a.meta: unknown key "csvdir"`},
		{"missing required meta key", "pumps: {a: {type: jsonl, meta: {fsync: false}}}\n", `pumps.a.meta: missing required key "path"`},
		{"wrong meta type", "pumps: {k: {type: kafka, meta: {broker: [a:1], topic: t, use_ssl: yes-please}}}\n", "pumps.k.meta.use_ssl: matches none of: want boolean, got string"},
		{"nested meta key", "pumps: {e: {type: elasticsearch, meta: {bulk_config: {workers: two}}}}\n", "pumps.e.meta.bulk_config.workers: matches none of: want integer, got string"},
		{"duration", "pumps: {h: {type: http, meta: {url: 'http://x', timeout: [1]}}}\n", "pumps.h.meta.timeout: matches none of"},
	}
	schema := configSchema()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := settings.Validate(schema, yamlDoc(t, tt.doc))
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("want an error containing %q, got %q", tt.want, all)
			}
		})
	}
}

// The command prints the schema as JSON with the dialect named.
func TestSchemaCommandPrintsDraft202012(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"schema"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Errorf("no draft 2020-12 $schema:\n%.300s", out.String())
	}
}

// pump plugins TYPE prints each setting of the sink from its Config, then
// a sample that still parses as YAML.
func TestPluginsTypePrintsTheSettingsAndTheSample(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"plugins", "csv"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"csv_dir: string (required)", "fsync: boolean (default true)", "file_name_format: string"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out.String()), &doc); err != nil || doc["pumps"] == nil {
		t.Errorf("output is not a pumps: section: %v\n%s", err, out.String())
	}
}
