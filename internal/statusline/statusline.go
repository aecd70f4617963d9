package statusline

import (
	"io"
	"os"
	"sync"
	"unicode/utf8"
)

// clear returns the cursor to the start of the line and erases the line.
const clear = "\r\x1b[K"

// Line is the status line of one terminal. Every write to that terminal
// must go through it (Write, or a writer from Through), so that it can take
// the line off the screen before the write and put it back after.
type Line struct {
	mu      sync.Mutex
	term    io.Writer
	width   func() int // the terminal's columns; nil or <= 0: no limit
	text    string
	shown   bool // text is on screen and the cursor at its end
	partial bool // the last write ended mid-line: draw again after one that ends it
	closed  bool
}

// New returns the status line of the terminal term, with width telling its
// columns (nil: no limit). Nothing is drawn before Set.
func New(term io.Writer, width func() int) *Line {
	return &Line{term: term, width: width}
}

// Set replaces the text and draws it in place of the old one. A text wider
// than the terminal is cut: a wrapped line could not be erased.
func (l *Line) Set(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.text = text
	if !l.partial {
		l.draw()
	}
}

// Write writes p to the terminal below the status line: it clears the
// line, writes p and, when p ends a line, draws the status line again.
func (l *Line) Write(p []byte) (int, error) {
	return l.writeTo(l.term, p)
}

// Through returns a writer for another file open on the same terminal
// (standard output beside a status line on standard error): its writes
// clear and redraw the line as Write does.
func (l *Line) Through(w io.Writer) io.Writer {
	return through{l, w}
}

type through struct {
	l *Line
	w io.Writer
}

func (t through) Write(p []byte) (int, error) { return t.l.writeTo(t.w, p) }

func (l *Line) writeTo(w io.Writer, p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
	n, err := w.Write(p)
	if len(p) > 0 {
		l.partial = p[len(p)-1] != '\n'
	}
	if !l.partial && !l.closed {
		l.draw()
	}
	return n, err
}

// Sync flushes the terminal when it is a file, for zap.
func (l *Line) Sync() error {
	if f, ok := l.term.(*os.File); ok {
		// A terminal cannot be fsynced (EINVAL); there is nothing to flush.
		_ = f.Sync()
	}
	return nil
}

// Close takes the line off the screen for good; later writes pass through.
func (l *Line) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
	l.closed = true
	return nil
}

func (l *Line) erase() {
	if l.shown {
		_, _ = io.WriteString(l.term, clear)
		l.shown = false
	}
}

// draw puts the text on screen; a failed write to the terminal only costs
// the status line, so its error is dropped.
func (l *Line) draw() {
	if l.text == "" {
		l.erase()
		return
	}
	text := l.text
	if l.width != nil {
		if w := l.width(); w > 1 {
			text = cut(text, w-1) // the last column would wrap on some terminals
		}
	}
	_, _ = io.WriteString(l.term, clear+text)
	l.shown = true
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
