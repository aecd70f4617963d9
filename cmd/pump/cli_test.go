//go:build linux

package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
)

// The command line's contract: a wrong flag says what is wrong and how to
// get help, on stderr, exit 2; help goes to stdout, exit 0.

var flagErrorCases = []struct {
	args       []string
	want, hint string
}{
	{[]string{"--nosuchflag"}, "pump: unknown flag: --nosuchflag", "pump run --help"},
	{[]string{"-x"}, "pump: unknown shorthand flag: 'x' in -x", "pump run --help"},
	{[]string{"run", "--batch-size=abc"}, `pump: invalid argument "abc" for "--batch-size" flag`, "pump run --help"},
	{[]string{"run", "--shutdown-timeout", "forever"}, `pump: invalid argument "forever" for "--shutdown-timeout" flag: want a duration such as 30s`, "pump run --help"},
	{[]string{"run", "--config"}, "pump: flag needs an argument: --config", "pump run --help"},
	{[]string{"validate", "--batch-size=5"}, "pump: unknown flag: --batch-size", "pump validate --help"},
	{[]string{"validate", "extra"}, `pump: validate takes no arguments, got "extra"`, "pump validate --help"},
	{[]string{"dlq", "list", "--limit=many"}, `pump: invalid argument "many" for "--limit" flag`, "pump dlq list --help"},
	{[]string{"health", "--timeout=soon"}, `pump: invalid argument "soon" for "--timeout" flag`, "pump health --help"},
	{[]string{"plugins", "--verbose"}, "pump: unknown flag: --verbose", "pump plugins --help"},
	{[]string{"version", "--short"}, "pump: unknown flag: --short", "pump version --help"},
	{[]string{"version", "now"}, `pump: version takes no arguments, got "now"`, "pump version --help"},
	{[]string{"completion", "tcsh"}, "pump: completion wants one shell: bash, zsh or fish", "pump completion --help"},
	{[]string{"nosuch"}, `pump: unknown command "nosuch"`, "pump help"},
}

func TestFlagErrorsArePrintedWithAUsageHint(t *testing.T) {
	for _, c := range flagErrorCases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCaptured(c.args...)
			if code != exitConfig || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing on stdout", code, stdout)
			}
			if !strings.HasPrefix(stderr, c.want) || !strings.Contains(stderr, "Run '"+c.hint) {
				t.Errorf("stderr %q; want it to start with %q and point to '%s'", stderr, c.want, c.hint)
			}
		})
	}
}

// The same through the real binary, as a systemd unit with a wrong flag
// would run it: stderr says why, exit 2.
func TestTheBinaryPrintsFlagErrors(t *testing.T) {
	testutil.NeedsBinary(t)
	bin := testutil.PumpBinary(t)
	for _, c := range flagErrorCases[:4] {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, c.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if cmd.ProcessState.ExitCode() != exitConfig || stdout.Len() != 0 ||
			!strings.HasPrefix(stderr.String(), c.want) || !strings.Contains(stderr.String(), "Run '"+c.hint+"' for usage.") {
			t.Errorf("pump %v: %v, stdout %q, stderr %q; want exit 2 with %q and the hint", c.args, err, stdout.String(), stderr.String(), c.want)
		}
	}
}

func TestHelpGoesToStdoutAndExits0(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "commands:\n  run "},
		{[]string{"-h"}, "commands:\n  run "},
		{[]string{"help"}, "commands:\n  run "},
		{[]string{"help", "validate"}, "usage: pump validate [-c FILE] [--print]"},
		{[]string{"run", "--help"}, "usage: pump run [flags]"},
		{[]string{"-c", "x.yaml", "--help"}, "usage: pump run [flags]"},
		{[]string{"validate", "-h"}, "usage: pump validate"},
		{[]string{"dlq", "--help"}, "usage: pump dlq list|replay|drop [flags]"},
		{[]string{"dlq", "-h"}, "usage: pump dlq list|replay|drop [flags]"},
		{[]string{"help", "dlq"}, "usage: pump dlq list|replay|drop [flags]"},
		{[]string{"dlq", "replay", "--help"}, "--pump string"},
		{[]string{"health", "--help"}, "usage: pump health"},
		{[]string{"plugins", "--help"}, "usage: pump plugins [TYPE]"},
		{[]string{"completion", "--help"}, "usage: pump completion bash|zsh|fish"},
		{[]string{"man", "--help"}, "usage: pump man"},
		{[]string{"version", "--help"}, "usage: pump version"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCaptured(c.args...)
			if code != exitOK || stderr != "" || !strings.Contains(stdout, c.want) {
				t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant 0, nothing on stderr and %q on stdout", code, stderr, stdout, c.want)
			}
		})
	}
}

func TestTopLevelHelpListsEveryCommand(t *testing.T) {
	_, stdout, _ := runCaptured("--help")
	for _, c := range commands() {
		if !strings.Contains(stdout, "\n  "+c.name+" ") {
			t.Errorf("pump --help does not list %s:\n%s", c.name, stdout)
		}
	}
}

// helpFlags are the flags a command's --help lists.
func helpFlags(t *testing.T, args ...string) []string {
	t.Helper()
	code, stdout, stderr := runCaptured(append(args, "--help")...)
	if code != 0 {
		t.Fatalf("pump %v --help: exit %d\n%s", args, code, stderr)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9.-]+)`).FindAllStringSubmatch(stdout, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

func TestEachCommandShowsOnlyTheFlagsItTakes(t *testing.T) {
	var allKeys []string
	for key := range config.Keys() {
		allKeys = append(allKeys, key)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run"}, append([]string{"config"}, allKeys...)},
		{[]string{"validate"}, []string{"config", "print"}},
		{[]string{"health"}, []string{"config", "health-check-address", "health-check-path", "ready", "timeout"}},
		{[]string{"plugins"}, nil},
		{[]string{"completion"}, nil},
		{[]string{"man"}, nil},
		{[]string{"version"}, nil},
	} {
		want := slices.Sorted(slices.Values(c.want))
		if got := helpFlags(t, c.args...); !slices.Equal(got, want) {
			t.Errorf("pump %v --help lists %v\nwant %v", c.args, got, want)
		}
	}
	// dlq's own flags, and the keys that reach Redis.
	got := helpFlags(t, "dlq")
	for _, want := range []string{"config", "limit", "pump", "yes", "redis.host", "redis.password", "analytics-key"} {
		if !slices.Contains(got, want) {
			t.Errorf("pump dlq --help lacks --%s: %v", want, got)
		}
	}
}

func TestValidateSaysWhereTheLogGoesBesideAStdoutPump(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"moved", "pumps: {out: {type: stdout}}\n", "note: the log goes to stderr, since pump out writes records on stdout\n"},
		{"kept on stdout by the file", "pumps: {out: {type: stdout}}\nlog: {output-paths: [stdout]}\n",
			"note: pump out writes records on stdout, and log.output-paths sends log lines there too: they interleave\n"},
		{"no stdout pump", "pumps: {d: {type: dummy}}\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := testutil.WriteFile(t, "pump.yaml", c.yaml)
			code, stdout, stderr := runCaptured("validate", "-c", path)
			_, notes, _ := strings.Cut(stdout, "\n")
			if code != 0 || notes != c.want {
				t.Errorf("exit %d, notes %q, want %q (stderr %q)", code, notes, c.want, stderr)
			}
		})
	}
}
