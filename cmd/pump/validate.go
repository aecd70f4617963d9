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
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/server"
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

func cmdPlugins(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("plugins", pflag.ContinueOnError)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	switch fs.NArg() {
	case 0:
	case 1:
		info, ok := pumps.Lookup(fs.Arg(0))
		if !ok {
			fmt.Fprintf(stderr, "pump: no sink of type %q; known: %s\n", fs.Arg(0), strings.Join(pumps.Types(), ", "))
			return exitConfig
		}
		fmt.Fprintf(stdout, "# %s: %s\npumps:\n", info.Type, info.Description)
		for _, line := range strings.Split(strings.TrimRight(info.Sample, "\n"), "\n") {
			fmt.Fprintln(stdout, "  "+line)
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "pump: plugins takes at most one sink type, got %q\nRun 'pump plugins --help' for usage.\n", fs.Args())
		return exitConfig
	}
	fmt.Fprintln(stdout, "sinks (pumps.<name>.type):")
	for _, info := range pumps.Registered() {
		fmt.Fprintf(stdout, "  %-14s %s\n", info.Type, info.Description)
	}
	fmt.Fprintln(stdout, "HTTP middlewares (server.middlewares):")
	for _, m := range server.Middlewares() {
		fmt.Fprintf(stdout, "  %-14s %s\n", m.Name, m.Description)
	}
	return exitOK
}
