// Command pump drains iam's analytics records from Redis into the
// configured sinks. Run `pump help` for the subcommands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
	_ "github.com/pumpd/pump/pumps/all"
	"github.com/pumpd/pump/server"
)

// Set by the Makefile with -ldflags "-X main.version=... -X main.commit=...";
// without them, init takes what the Go toolchain recorded in the binary.
var (
	version = "dev"
	commit  = ""
)

func init() {
	bi, _ := debug.ReadBuildInfo()
	version, commit = buildVersion(version, commit, bi)
}

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
	name    string
	usage   string // what follows "pump " in a synopsis
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	// subcommands come first among args (dlq list); help and completion
	// need them.
	subcommands []string
}

func commands() []command {
	return []command{
		{"run", "run [flags]", "drain the analytics list into the pumps (the default command)", cmdRun, nil},
		{"validate", "validate [-c FILE] [--print]", "check a configuration file and every pump's meta; exit 0 or 2", cmdValidate, nil},
		{"plugins", "plugins [TYPE]", "list the sinks and HTTP middlewares; with TYPE, print its settings and a sample section", cmdPlugins, nil},
		{"schema", "schema", "print the JSON Schema of the configuration file, for editors", cmdSchema, nil},
		{"dlq", "dlq list|replay|drop [flags]", "inspect, replay or drop dead letters", cmdDLQ, []string{"list", "replay", "drop"}},
		{"produce", "produce [--mode list|streams] [--count N] [flags]", "write synthetic iam records to a list or stream, for tests and demos", cmdProduce, nil},
		{"health", "health [flags]", "ask the local daemon's health endpoint; exit 0 when healthy", cmdHealth, nil},
		{"completion", "completion bash|zsh|fish", "print a shell completion script", cmdCompletion, []string{"bash", "zsh", "fish"}},
		{"man", "man", "print the manual page (roff): pump man > pump.1", cmdMan, nil},
		{"version", "version", "print the version (also pump --version, -v)", cmdVersion, nil},
		{"help", "help [COMMAND]", "list the commands, or show one command's flags", nil, nil},
	}
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func isHelpArg(a string) bool { return a == "-h" || a == "--help" }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch {
		case args[0] == "-v" || args[0] == "--version":
			args = append([]string{"version"}, args[1:]...)
		case isHelpArg(args[0]):
			usage(stdout)
			return exitOK
		case args[0] == "help" && len(args) == 1:
			usage(stdout)
			return exitOK
		case args[0] == "help":
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
	}
	name := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	c, ok := lookupCommand(name)
	if !ok || c.run == nil {
		fmt.Fprintf(stderr, "pump: unknown command %q\nRun 'pump help' for the commands.\n", name)
		return exitConfig
	}
	// A command with subcommands defines its flags per subcommand; its own
	// --help shows the first one's, which are every subcommand's.
	if len(c.subcommands) > 0 && len(args) > 0 && isHelpArg(args[0]) {
		args = []string{c.subcommands[0], args[0]}
	}
	return c.run(args, stdout, &commandStderr{Writer: stderr, stdout: stdout})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "pump drains iam's analytics records from Redis into the configured sinks.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: pump [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'pump COMMAND --help' for a command's flags, 'pump --version' for the version.")
}

// commandStderr is the stderr run gives a command. It also carries the
// command's stdout, so that parseFlags, which commands call with stderr
// alone, prints help on stdout; and, when describe is set, it takes the
// command's flag set and stops the command there (completion and the man
// page are made from it).
type commandStderr struct {
	io.Writer
	stdout   io.Writer
	describe func(*pflag.FlagSet)
}

// parseFlags parses args; it returns an exit status when the caller should
// stop: help was asked for (exit 0, help on stdout) or a flag is wrong (exit
// 2, the error and a usage hint on stderr).
func parseFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	cs, _ := stderr.(*commandStderr)
	if cs != nil && cs.describe != nil {
		cs.describe(fs)
		return exitOK, true
	}
	// pflag's own messages are silent under ContinueOnError: it returns the
	// error, printed here.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		out := stderr
		if cs != nil {
			out = cs.stdout
		}
		commandHelp(out, fs)
		return exitOK, true
	case err != nil:
		fmt.Fprintf(stderr, "pump: %v\nRun 'pump %s --help' for usage.\n", err, fs.Name())
		return exitConfig, true
	}
	return 0, false
}

// noArgs refuses arguments after the flags, for commands that take none.
func noArgs(fs *pflag.FlagSet, stderr io.Writer) bool {
	if fs.NArg() == 0 {
		return true
	}
	fmt.Fprintf(stderr, "pump: %s takes no arguments, got %q\nRun 'pump %s --help' for usage.\n", fs.Name(), fs.Arg(0), fs.Name())
	return false
}

// commandHelp prints a command's synopsis and flags: its own first, then
// the configuration keys it lets the command line override.
func commandHelp(w io.Writer, fs *pflag.FlagSet) {
	name, _, _ := strings.Cut(fs.Name(), " ")
	c, _ := lookupCommand(name)
	fmt.Fprintf(w, "usage: pump %s\n\n%s.\n", c.usage, upperFirst(c.summary))
	own, keys := splitFlags(fs)
	if own.HasFlags() {
		fmt.Fprintf(w, "\nflags:\n%s", own.FlagUsages())
	}
	if keys.HasFlags() {
		fmt.Fprintf(w, "\nconfiguration keys (a flag wins over %sKEY, which wins over the file):\n%s", config.EnvPrefix, keys.FlagUsages())
	}
}

// splitFlags separates a command's own flags from those of configuration
// keys.
func splitFlags(fs *pflag.FlagSet) (own, keys *pflag.FlagSet) {
	own = pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	keys = pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if config.IsKeyFlag(f.Name) {
			keys.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	return own, keys
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
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

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if !noArgs(fs, stderr) {
		return exitConfig
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

func versionString() string {
	s := "pump " + version
	if commit != "" {
		s += " (" + commit + ")"
	}
	return s + " " + runtime.Version()
}

// buildVersion is the version and commit to report: those the Makefile set
// with -ldflags, or else those the Go toolchain recorded in the binary: the
// module version (vX.Y.Z after `go install ...@vX.Y.Z`, a pseudo-version
// for a build in a git checkout) and the VCS revision, "-dirty" when the
// tree had changes.
func buildVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) (string, string) {
	if ldVersion != "dev" || bi == nil {
		return ldVersion, ldCommit
	}
	v := ldVersion
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	if ldCommit != "" {
		return v, ldCommit
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return v, rev
}
