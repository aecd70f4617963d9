package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pumpd/pump/internal/statusline"
	"github.com/pumpd/pump/pumps/stdout"
)

// statusEvery is how often the terminal's status line is redrawn.
const statusEvery = 250 * time.Millisecond

// shareTerminal sends the stdout pumps' records through the status line
// when standard output is the terminal the line is drawn on, so a record
// never lands on the line's text. Call it before the pumps are made.
func shareTerminal(line *statusline.Line, logTo []string) {
	switch {
	case line == nil || len(logTo) != 1:
	case logTo[0] == "stdout": // the line is on stdout itself
		stdout.Output = line
	case statusline.SameTerminal(os.Stdout, os.Stderr):
		stdout.Output = line.Through(os.Stdout)
	}
}

// showStatus redraws the status line until ctx ends: records read per
// second over the last two seconds, the backlog, and what each pump wrote.
func (d *daemon) showStatus(ctx context.Context, line *statusline.Line) {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	type sample struct {
		at   time.Time
		read int64
	}
	var window []sample // the last two seconds
	backlog := "?"
	for tick := 0; ; tick++ {
		read, _ := d.records()
		now := time.Now()
		window = append(window, sample{now, read})
		for len(window) > 1 && now.Sub(window[0].at) > 2*time.Second {
			window = window[1:]
		}
		rate := 0.0
		if first := window[0]; now.After(first.at) {
			rate = float64(read-first.read) / now.Sub(first.at).Seconds()
		}
		if tick%4 == 0 { // LLEN once a second is plenty
			lctx, cancel := context.WithTimeout(ctx, statusEvery)
			if n, err := d.backlog(lctx); err == nil {
				backlog = fmt.Sprint(n)
			} else {
				backlog = "?"
			}
			cancel()
		}
		var b strings.Builder
		fmt.Fprintf(&b, "pump: %.0f records/s | backlog %s", rate, backlog)
		d.mu.Lock()
		for _, out := range d.outputs {
			fmt.Fprintf(&b, " | %s %d", out.Name, out.Stats.Written.Load())
			if st := out.State(); st != "writing" {
				fmt.Fprintf(&b, " (%s)", st)
			}
		}
		d.mu.Unlock()
		line.Set(b.String())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backlog sums the sources' lengths.
func (d *daemon) backlog(ctx context.Context) (int64, error) {
	var total int64
	for _, dr := range d.drains {
		n, err := dr.loop.Backlog(ctx)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
