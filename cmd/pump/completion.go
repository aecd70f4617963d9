package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/pumps"
)

// The completion scripts and the man page are made from the command table
// and each command's own flag set, so they list exactly what parses.

// commandFlags is the flag set c parses, taken from c without running it
// (see commandStderr); nil for help, which has none.
func commandFlags(c command) *pflag.FlagSet {
	if c.run == nil {
		return nil
	}
	var got *pflag.FlagSet
	var args []string
	if len(c.subcommands) > 0 {
		args = c.subcommands[:1]
	}
	c.run(args, io.Discard, &commandStderr{Writer: io.Discard, stdout: io.Discard, describe: func(fs *pflag.FlagSet) { got = fs }})
	return got
}

// spec is what completion needs of one command.
type spec struct {
	command
	flags []*pflag.Flag
	// args are the values of its first argument: subcommands, shells,
	// sink types, command names.
	args []string
}

func specs() []spec {
	var out []spec
	for _, c := range commands() {
		s := spec{command: c, args: c.subcommands}
		if fs := commandFlags(c); fs != nil {
			fs.VisitAll(func(f *pflag.Flag) { s.flags = append(s.flags, f) })
		}
		switch c.name {
		case "plugins":
			s.args = pumps.Types()
		case "help":
			for _, c := range commands() {
				s.args = append(s.args, c.name)
			}
		}
		out = append(out, s)
	}
	return out
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// takesValue reports whether f needs a value (--batch-size 500), unlike a
// switch (--print).
func takesValue(f *pflag.Flag) bool { return f.NoOptDefVal == "" }

// namesFile reports whether f's value is a path worth completing as one.
func namesFile(f *pflag.Flag) bool {
	return f.Name == "config" || f.Name == "out" || strings.HasSuffix(f.Name, "-file")
}

// flagWords are a command's flags as typed: --long and -s.
func flagWords(s spec) []string {
	var w []string
	for _, f := range s.flags {
		w = append(w, "--"+f.Name)
		if f.Shorthand != "" {
			w = append(w, "-"+f.Shorthand)
		}
	}
	return append(w, "--help", "-h")
}

func cmdCompletion(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("completion", pflag.ContinueOnError)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	shells := map[string]func(io.Writer, []spec){"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}
	gen, ok := shells[fs.Arg(0)]
	if fs.NArg() != 1 || !ok {
		fmt.Fprintf(stderr, "pump: completion wants one shell: bash, zsh or fish\nRun 'pump completion --help' for usage.\n")
		return exitConfig
	}
	gen(stdout, specs())
	return exitOK
}

func bashCompletion(w io.Writer, all []spec) {
	var valueFlags []string
	for _, s := range all {
		for _, f := range s.flags {
			if takesValue(f) && !namesFile(f) && !slices.Contains(valueFlags, "--"+f.Name) {
				valueFlags = append(valueFlags, "--"+f.Name)
			}
		}
	}
	slices.Sort(valueFlags)
	fmt.Fprintf(w, `# bash completion for pump, made by 'pump completion bash'.
# Install: pump completion bash > /etc/bash_completion.d/pump (or source it from ~/.bashrc).
_pump() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd=run words=
    if [[ $COMP_CWORD -gt 1 && ${COMP_WORDS[1]} != -* ]]; then
        cmd=${COMP_WORDS[1]}
    fi
    case $prev in
        -c|--config|--out|--*-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        %s)
            COMPREPLY=()
            return ;;
    esac
    if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W %q -- "$cur"))
        return
    fi
    case $cmd in
`, strings.Join(valueFlags, "|"), strings.Join(commandNames(), " "))
	for _, s := range all {
		flags := strings.Join(flagWords(s), " ")
		if s.name == "run" {
			flags += " --version -v"
		}
		fmt.Fprintf(w, "        %s)\n", s.name)
		if len(s.args) > 0 {
			fmt.Fprintf(w, "            if [[ $COMP_CWORD -eq 2 && $cur != -* ]]; then words=%q; else words=%q; fi ;;\n", strings.Join(s.args, " "), flags)
		} else {
			fmt.Fprintf(w, "            words=%q ;;\n", flags)
		}
	}
	fmt.Fprint(w, `    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pump pump
`)
}

// zshQuote makes s safe inside a single-quoted _arguments spec or
// _describe entry.
func zshQuote(s string) string {
	return strings.NewReplacer(`'`, `'\''`, `[`, `(`, `]`, `)`, `:`, `\:`, `\`, `\\`).Replace(s)
}

func zshCompletion(w io.Writer, all []spec) {
	fmt.Fprint(w, `#compdef pump
# zsh completion for pump, made by 'pump completion zsh'.
# Install: pump completion zsh > "${fpath[1]}/_pump" (or source it from ~/.zshrc).
_pump() {
  local -a commands
  commands=(
`)
	for _, s := range all {
		fmt.Fprintf(w, "    '%s:%s'\n", s.name, zshQuote(s.summary))
	}
	fmt.Fprint(w, `  )
  if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then
    _describe -t commands 'pump command' commands
    return
  fi
  local cmd=run
  if [[ $words[2] != -* ]]; then
    cmd=$words[2]
    shift words
    (( CURRENT-- ))
  fi
  case $cmd in
`)
	for _, s := range all {
		fmt.Fprintf(w, "    (%s)\n      _arguments -s \\\n", s.name)
		for _, f := range s.flags {
			names := "--" + f.Name
			if f.Shorthand != "" {
				names = fmt.Sprintf("'(-%s --%s)'{-%s,--%s}'", f.Shorthand, f.Name, f.Shorthand, f.Name)
			} else {
				names = "'" + names
			}
			value := ""
			switch {
			case takesValue(f) && namesFile(f):
				value = ":file:_files"
			case takesValue(f):
				value = ":" + zshQuote(f.Value.Type()) + ": "
			}
			fmt.Fprintf(w, "        %s[%s]%s' \\\n", names, zshQuote(f.Usage), value)
		}
		if len(s.args) > 0 {
			fmt.Fprintf(w, "        '1:%s:(%s)' \\\n", s.name, strings.Join(s.args, " "))
		}
		fmt.Fprint(w, "        '(- *)'{-h,--help}'[show this command'\\''s flags]'\n      ;;\n")
	}
	fmt.Fprint(w, `  esac
}
if [[ $funcstack[1] == _pump ]]; then
  _pump "$@"
else
  compdef _pump pump
fi
`)
}

// fishQuote makes s safe inside single quotes in fish.
func fishQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

func fishCompletion(w io.Writer, all []spec) {
	names := strings.Join(commandNames(), " ")
	fmt.Fprintf(w, `# fish completion for pump, made by 'pump completion fish'.
# Install: pump completion fish > ~/.config/fish/completions/pump.fish
complete -c pump -f
complete -c pump -n 'not __fish_seen_subcommand_from %s' -l version -s v -d 'print the version'
`, names)
	for _, s := range all {
		fmt.Fprintf(w, "complete -c pump -n 'not __fish_seen_subcommand_from %s' -a %s -d '%s'\n", names, s.name, fishQuote(s.summary))
	}
	for _, s := range all {
		// run is the default command: its flags also come before any command.
		cond := "__fish_seen_subcommand_from " + s.name
		if s.name == "run" {
			var others []string
			for _, n := range commandNames() {
				if n != "run" {
					others = append(others, n)
				}
			}
			cond = "not __fish_seen_subcommand_from " + strings.Join(others, " ")
		}
		for _, f := range s.flags {
			line := fmt.Sprintf("complete -c pump -n '%s' -l %s", cond, f.Name)
			if f.Shorthand != "" {
				line += " -s " + f.Shorthand
			}
			switch {
			case takesValue(f) && namesFile(f):
				line += " -r -F"
			case takesValue(f):
				line += " -x"
			}
			fmt.Fprintf(w, "%s -d '%s'\n", line, fishQuote(f.Usage))
		}
		if len(s.args) > 0 {
			fmt.Fprintf(w, "complete -c pump -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a '%s'\n",
				s.name, strings.Join(s.args, " "), strings.Join(s.args, " "))
		}
	}
}
