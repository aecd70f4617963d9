package main

import (
	"fmt"
	"io"
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
	path := config.AddFlags(fs)
	show := fs.Bool("print", false, "print the effective configuration, secrets redacted")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
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
	if *show {
		b, _ := yaml.Marshal(cfg.RedactedMap())
		stdout.Write(b)
	}
	return exitOK
}

func cmdPlugins(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		info, ok := pumps.Lookup(args[0])
		if !ok {
			fmt.Fprintf(stderr, "pump: no sink of type %q; known: %s\n", args[0], strings.Join(pumps.Types(), ", "))
			return exitConfig
		}
		fmt.Fprintf(stdout, "# %s: %s\npumps:\n", info.Type, info.Description)
		for _, line := range strings.Split(strings.TrimRight(info.Sample, "\n"), "\n") {
			fmt.Fprintln(stdout, "  "+line)
		}
		return exitOK
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
