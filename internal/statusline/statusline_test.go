package statusline

import (
	"bytes"
	"os"
	"testing"
)

// A bytes.Buffer stands in for the terminal here, the one place a stand-in
// is fine: what is checked is the exact byte sequence the line sends, which
// a real terminal would only render. cmd/pump and the demo use a real one.

const clr = "\r\x1b[K"

func TestLogWritesClearTheLineAndDrawItAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(l *Line, other *bytes.Buffer)
		want  string
	}{
		{"nothing set: writes pass through untouched", func(l *Line, _ *bytes.Buffer) {
			l.Write([]byte("log line\n"))
		}, "log line\n"},
		{"set draws in place", func(l *Line, _ *bytes.Buffer) {
			l.Set("10 rec/s")
			l.Set("20 rec/s")
		}, clr + "10 rec/s" + clr + "20 rec/s"},
		{"a log line clears the line, then it is drawn again below", func(l *Line, _ *bytes.Buffer) {
			l.Set("10 rec/s")
			l.Write([]byte("drained\n"))
		}, clr + "10 rec/s" + clr + "drained\n" + clr + "10 rec/s"},
		{"a write that ends mid-line is not followed by the line until one ends it", func(l *Line, _ *bytes.Buffer) {
			l.Set("s")
			l.Write([]byte(`{"id":`))
			l.Set("t") // not drawn: it would land inside the record
			l.Write([]byte("1}\n"))
		}, clr + "s" + clr + `{"id":` + "1}\n" + clr + "t"},
		{"close takes the line off; later writes pass through", func(l *Line, _ *bytes.Buffer) {
			l.Set("s")
			l.Close()
			l.Write([]byte("loop stopped\n"))
			l.Set("u")
		}, clr + "s" + clr + "loop stopped\n"},
		{"cut to the width, less the last column", func(l *Line, _ *bytes.Buffer) {
			l.Set("0123456789abc")
		}, clr + "012345678"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var term, other bytes.Buffer
			l := New(&term, func() int { return 10 })
			tc.steps(l, &other)
			if got := term.String(); got != tc.want {
				t.Errorf("terminal got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestWritesThroughAnotherFileClearTheLineToo(t *testing.T) {
	var term, stdout bytes.Buffer
	l := New(&term, nil)
	l.Set("s")
	w := l.Through(&stdout)
	if _, err := w.Write([]byte("record\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := term.String(), clr+"s"+clr+clr+"s"; got != want {
		t.Errorf("terminal got %q, want %q (cleared before the record, drawn after)", got, want)
	}
	if stdout.String() != "record\n" {
		t.Errorf("stdout got %q", stdout.String())
	}
}

func TestNoStatusLineInCIOrOffATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Wanted(f) {
		t.Error("a file got a status line")
	}
	t.Setenv("CI", "true")
	if Wanted(os.Stderr) {
		t.Error("CI got a status line")
	}
}

func TestCutCountsCharactersNotBytes(t *testing.T) {
	if got := cut("héllo", 2); got != "hé" {
		t.Errorf("cut(héllo, 2) = %q, want hé", got)
	}
}
