// Command pump drains iam's analytics records from Redis into the
// configured sinks. Run `pump help` for the subcommands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
	_ "github.com/pumpd/pump/pumps/all"
	"github.com/pumpd/pump/server"
)

// Set by the Makefile with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a runtime failure, or a second stop signal
	exitConfig = 2 // bad configuration or usage
)

func main() {
	config.MiddlewareNames = server.MiddlewareNames
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "drain the analytics list into the pumps (the default)", cmdRun},
		{"validate", "check a configuration file and every pump's meta; exit 0 or 2", cmdValidate},
		{"plugins", "list the sinks and HTTP middlewares; `plugins TYPE` prints a sample", cmdPlugins},
		{"dlq", "inspect, replay or drop dead letters: dlq list|replay|drop", cmdDLQ},
		{"health", "ask the local daemon's health endpoint; exit 0 when healthy", cmdHealth},
		{"version", "print the version", cmdVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "pump: unknown command %q\n", name)
	usage(stderr)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pump [command] [flags]")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "Run `pump COMMAND --help` for a command's flags.")
}

// parseFlags parses args; it returns an exit status when the caller should
// stop (help asked for, or bad flags).
func parseFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, true
		}
		return exitConfig, true
	}
	return 0, false
}

// loadConfig loads the configuration, printing an error naming the key.
func loadConfig(fs *pflag.FlagSet, path string, stderr io.Writer) (config.Config, bool) {
	cfg, file, err := config.Load(config.Source{Path: path, Flags: fs})
	if err != nil {
		where := ""
		if file != "" {
			where = " in " + file
		}
		fmt.Fprintf(stderr, "pump: invalid configuration%s:\n%s\n", where, indent(err.Error()))
		return cfg, false
	}
	return cfg, true
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func cmdVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

func versionString() string {
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	s := "pump " + version
	if commit != "" {
		s += " (" + commit + ")"
	}
	return s + " " + goVersion
}
