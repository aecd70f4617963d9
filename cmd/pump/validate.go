package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/config"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("validate", pflag.ContinueOnError)
	path := config.AddConfigFlag(fs)
	show := fs.Bool("print", false, "print the effective configuration, secrets redacted")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if !noArgs(fs, stderr) {
		return exitConfig
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	names := make([]string, 0, len(cfg.Pumps))
	for name, p := range cfg.Pumps {
		names = append(names, name+" ("+p.Type+")")
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "configuration is valid: %d pumps: %s\n", len(names), strings.Join(names, ", "))
	for _, note := range notes(cfg) {
		fmt.Fprintln(stdout, "note: "+note)
	}
	if *show {
		b, _ := yaml.Marshal(cfg.RedactedMap())
		stdout.Write(b)
	}
	return exitOK
}

// notes are what a valid configuration does that its author may not expect.
func notes(cfg config.Config) []string {
	var out []string
	if names := cfg.StdoutPumps(); len(names) > 0 {
		pumpsText := "pump " + strings.Join(names, ", ")
		if slices.Contains(cfg.Log.OutputPaths, "stdout") {
			out = append(out, pumpsText+" writes records on stdout, and log.output-paths sends log lines there too: they interleave")
		} else if slices.Equal(cfg.Log.OutputPaths, []string{"stderr"}) {
			out = append(out, "the log goes to stderr, since "+pumpsText+" writes records on stdout")
		}
	}
	return out
}
