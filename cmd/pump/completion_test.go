package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
)

func generated(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCaptured(args...)
	if code != 0 || stderr != "" {
		t.Fatalf("pump %v: exit %d\n%s", args, code, stderr)
	}
	return stdout
}

func TestEveryCommandHandsItsFlagsToCompletion(t *testing.T) {
	for _, c := range commands() {
		if c.run == nil {
			continue
		}
		// nil would mean the command ran for real instead of describing itself.
		if commandFlags(c) == nil {
			t.Errorf("%s did not hand over its flags: it must call parseFlags first", c.name)
		}
	}
}

func TestCompletionScriptsListEveryCommandAndFlag(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			script := generated(t, "completion", shell)
			for _, s := range specs() {
				if !strings.Contains(script, s.name) {
					t.Errorf("no command %s", s.name)
				}
				for _, arg := range s.args {
					if !strings.Contains(script, arg) {
						t.Errorf("%s: no argument %s", s.name, arg)
					}
				}
				for _, f := range s.flags {
					want := "--" + f.Name
					if shell == "fish" {
						want = "-n '" + fishCondition(s.name) + "' -l " + f.Name
					}
					if !strings.Contains(script, want) {
						t.Errorf("%s: no flag --%s (looked for %q)", s.name, f.Name, want)
					}
				}
			}
		})
	}
}

func fishCondition(name string) string {
	if name != "run" {
		return "__fish_seen_subcommand_from " + name
	}
	var others []string
	for _, n := range commandNames() {
		if n != "run" {
			others = append(others, n)
		}
	}
	return "not __fish_seen_subcommand_from " + strings.Join(others, " ")
}

// complete runs the bash completion function on a command line and returns
// what it offers; the line's last word is the one being completed.
func complete(t *testing.T, script, dir, line string) []string {
	t.Helper()
	words := strings.Split(line, " ")
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "\n_pump\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	return got
}

func TestBashCompletionIsValidAndCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash here")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "pump.bash")
	if err := os.WriteFile(script, []byte(generated(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "pump.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var validateFlags []string
	for _, s := range specs() {
		if s.name == "validate" {
			validateFlags = flagWords(s)
		}
	}
	slices.Sort(validateFlags)
	for _, c := range []struct {
		line string
		want []string
	}{
		{"pump va", []string{"validate"}},
		{"pump c", []string{"completion"}},
		{"pump run --redis.h", []string{"--redis.host"}},
		{"pump --batch-", []string{"--batch-max-bytes", "--batch-size"}}, // run is the default command
		{"pump --vers", []string{"--version"}},
		{"pump validate -", validateFlags},
		{"pump dlq ", []string{"drop", "list", "replay"}},
		{"pump dlq list --li", []string{"--limit"}},
		{"pump completion ", []string{"bash", "fish", "zsh"}},
		{"pump plugins cs", []string{"csv"}},
		{"pump help dl", []string{"dlq"}},
		{"pump health --r", []string{"--ready"}},
		{"pump -c pump.y", []string{"pump.yaml"}},
		{"pump run --batch-size ", nil}, // a number, not a flag
	} {
		if got := complete(t, script, work, c.line); !slices.Equal(got, c.want) {
			t.Errorf("%q completes to %v, want %v", c.line, got, c.want)
		}
	}
}

// zsh's script is checked for syntax, fish's also for what it completes
// (fish can ask its completions from a script: complete -C).
func TestZshAndFishCompletions(t *testing.T) {
	for _, c := range []struct{ shell, check string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(c.shell, func(t *testing.T) {
			if _, err := exec.LookPath(c.shell); err != nil {
				t.Skipf("%s is not installed (make test installs it): its script is checked for content only", c.shell)
			}
			file := filepath.Join(t.TempDir(), "pump."+c.shell)
			if err := os.WriteFile(file, []byte(generated(t, "completion", c.shell)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(c.shell, c.check, file).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", c.shell, c.check, err, out)
			}
			if c.shell != "fish" {
				return
			}
			for _, tc := range []struct {
				line string
				want []string
			}{
				{"pump va", []string{"validate"}},
				{"pump dlq ", []string{"drop", "list", "replay"}},
				{"pump dlq list --li", []string{"--limit"}},
				{"pump --batch-", []string{"--batch-max-bytes", "--batch-size"}},
				{"pump validate --", []string{"--config", "--print"}},
				{"pump completion ", []string{"bash", "fish", "zsh"}},
				{"pump plugins cs", []string{"csv"}},
			} {
				out, err := exec.Command("fish", "--no-config", "-c", "source "+file+"; complete -C '"+tc.line+"'").CombinedOutput()
				if err != nil {
					t.Fatalf("fish: %v\n%s", err, out)
				}
				var got []string
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if word, _, _ := strings.Cut(l, "\t"); word != "" {
						got = append(got, word)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%q completes to %v, want %v", tc.line, got, tc.want)
				}
			}
		})
	}
}

func TestManPageHasEveryCommandAndFlag(t *testing.T) {
	page := generated(t, "man")
	for _, s := range specs() {
		if !strings.Contains(page, `.SS "pump `+roff(s.usage)+`"`) {
			t.Errorf("no section for %s", s.name)
		}
		for _, f := range s.flags {
			if !strings.Contains(page, `\-\-`+roff(f.Name)) {
				t.Errorf("%s: no flag --%s", s.name, f.Name)
			}
		}
	}
	// Every key flag is described once, under CONFIGURATION FLAGS.
	_, keysSection, _ := strings.Cut(page, ".SH CONFIGURATION FLAGS")
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	config.AddKeyFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if n := strings.Count(keysSection, ".TP\n\\fB\\-\\-"+roff(f.Name)+`\fR`); n != 1 {
			t.Errorf("--%s described %d times under CONFIGURATION FLAGS", f.Name, n)
		}
	})
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("no groff here to check the roff")
	}
	cmd := exec.Command("groff", "-man", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -man -ww: %v\n%s", err, out)
	}
}
