package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
)

func cmdMan(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("man", pflag.ContinueOnError)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if !noArgs(fs, stderr) {
		return exitConfig
	}
	manPage(stdout, specs())
	return exitOK
}

// roff escapes text for a man page line.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// manFlag writes one flag as a tagged paragraph.
func manFlag(w io.Writer, f *pflag.Flag) {
	tag := `\fB\-\-` + roff(f.Name) + `\fR`
	if f.Shorthand != "" {
		tag = `\fB\-` + roff(f.Shorthand) + `\fR, ` + tag
	}
	if takesValue(f) {
		tag += ` \fI` + roff(f.Value.Type()) + `\fR`
	}
	text := f.Usage
	if d := f.DefValue; d != "" && d != "[]" && d != "0" && d != "false" && d != "0s" {
		text += " (default " + d + ")"
	}
	fmt.Fprintf(w, ".TP\n%s\n%s\n", tag, roff(text))
}

func manPage(w io.Writer, all []spec) {
	fmt.Fprintf(w, `.\" The manual page of pump, made by 'pump man'.
.TH PUMP 1 "" "%s" "User Commands"
.SH NAME
pump \- drain iam's analytics records from Redis into the configured sinks
.SH SYNOPSIS
.B pump
[\fIcommand\fR] [\fIflags\fR]
.SH DESCRIPTION
pump is a drop\-in replacement for iam\-pump: it reads the analytics records iam's
authorization server pushes onto a Redis list and writes every record to each configured
sink ("pump"). A record leaves Redis only after every pump has it, or it waits in a
dead\-letter or parked list with the reason.
.PP
The configuration is a YAML file (\fB\-c\fR \fIFILE\fR). Every key of it can also be set by a
flag named after the key and by an environment variable; a flag wins over the environment,
which wins over the file.
.SH COMMANDS
`, roff(versionString()))
	for _, s := range all {
		fmt.Fprintf(w, ".SS \"pump %s\"\n%s.\n", roff(s.usage), roff(upperFirst(s.summary)))
		if len(s.flags) == 0 {
			continue
		}
		own, keys := pflag.NewFlagSet("", pflag.ContinueOnError), pflag.NewFlagSet("", pflag.ContinueOnError)
		for _, f := range s.flags {
			if config.IsKeyFlag(f.Name) {
				keys.AddFlag(f)
			} else {
				own.AddFlag(f)
			}
		}
		own.VisitAll(func(f *pflag.Flag) { manFlag(w, f) })
		switch {
		case !keys.HasFlags():
		case countFlags(keys) == len(config.Keys()):
			fmt.Fprintln(w, ".PP\nIt takes every flag of CONFIGURATION FLAGS.")
		default:
			var names []string
			keys.VisitAll(func(f *pflag.Flag) { names = append(names, `\fB\-\-`+roff(f.Name)+`\fR`) })
			fmt.Fprintf(w, ".PP\nOf the CONFIGURATION FLAGS it takes %s.\n", strings.Join(names, ", "))
		}
	}
	fmt.Fprintln(w, ".SH CONFIGURATION FLAGS")
	fmt.Fprintln(w, "Each sets the configuration key of its name; "+roff(config.EnvPrefix)+`\fIKEY\fR in the environment sets it too, the key in capitals with "." and "\-" as "_" (\fB`+roff(config.EnvName("redis.host"))+`\fR sets \fBredis.host\fR).`)
	keyFlags := pflag.NewFlagSet("", pflag.ContinueOnError)
	config.AddKeyFlags(keyFlags)
	keyFlags.VisitAll(func(f *pflag.Flag) { manFlag(w, f) })
	fmt.Fprintf(w, `.SH FILES
Without \fB\-c\fR, the first of %s.
.SH EXIT STATUS
.TP
0
a clean stop, or success
.TP
1
a runtime failure, or a second stop signal
.TP
2
a bad configuration or command line, before anything connects to Redis
.SH SIGNALS
SIGINT and SIGTERM start the graceful stop (within \fBshutdown\-timeout\fR); a second one exits at
once. SIGHUP re\-reads the configuration file.
.SH SEE ALSO
The README of the pump's repository; \fBpump plugins\fR for the sinks.
`, roff(strings.Join(config.DefaultPaths, ", ")))
}

func countFlags(fs *pflag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*pflag.Flag) { n++ })
	return n
}
