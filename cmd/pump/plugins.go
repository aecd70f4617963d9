package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	settings "github.com/pumpd/pump/internal/spec"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/server"
)

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
		printPlugin(stdout, info)
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

// printPlugin prints a sink's settings, from its Config struct, as YAML
// comments above its sample section, so the whole output pastes into a
// configuration file.
func printPlugin(w io.Writer, info pumps.Info) {
	fmt.Fprintf(w, "# %s: %s\n", info.Type, info.Description)
	fields := settings.Fields(info.Config(info.New()), settings.Options{})
	if len(fields) == 0 {
		fmt.Fprintln(w, "# meta: no settings")
	} else {
		fmt.Fprintln(w, "# meta (pumps.<name>.meta):")
		for _, line := range strings.Split(strings.TrimRight(settings.Text(fields), "\n"), "\n") {
			fmt.Fprintln(w, "#"+line)
		}
	}
	fmt.Fprintln(w, "pumps:")
	for _, line := range strings.Split(strings.TrimRight(info.Sample, "\n"), "\n") {
		fmt.Fprintln(w, "  "+line)
	}
}
