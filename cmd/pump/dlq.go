package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

func cmdDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: pump dlq list [--limit N] | replay [--pump NAME] [--include-undecodable] [--limit N] | drop --yes   (with -c FILE, and --source KEY when it drains several)")
		return exitConfig
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("dlq "+sub, pflag.ContinueOnError)
	path := config.AddFlags(fs)
	limit := fs.Int64("limit", 0, "at most this many entries (0: all for replay, 20 for list)")
	pumpName := fs.String("pump", "", "replay: only this pump's dead letters, written straight to it (else each letter goes to its pump's parked list)")
	undecodable := fs.Bool("include-undecodable", false, "replay: also the letters no pump could decode")
	yes := fs.Bool("yes", false, "drop: really delete every dead letter")
	sourceKey := fs.String("source", "", "the source whose dead letters these are, by its key (needed when the configuration has several)")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	src, err := pickSource(cfg, *sourceKey)
	if err != nil {
		fmt.Fprintf(stderr, "pump: %v\n", err)
		return exitConfig
	}
	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		fmt.Fprintf(stderr, "pump: %v\n", err)
		return exitFailed
	}
	defer client.Close()
	q := storage.NewQueue(client, src.Key, "dlq", cfg.LeaseTTL.D())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	switch sub {
	case "list":
		err = dlqList(ctx, q, *limit, stdout)
	case "replay":
		err = dlqReplay(ctx, cfg, src, q, pump.DeadReplay{Pump: *pumpName, IncludeUndecodable: *undecodable, Limit: *limit}, stdout, stderr)
	case "drop":
		if !*yes {
			fmt.Fprintln(stderr, "pump: dlq drop deletes every dead letter for good; add --yes to do it")
			return exitConfig
		}
		var n int64
		if n, err = q.Delete(ctx, q.DeadKey()); err == nil {
			fmt.Fprintf(stdout, "dropped %d dead letters from %s\n", n, q.DeadKey())
		}
	default:
		fmt.Fprintf(stderr, "pump: unknown dlq command %q (list, replay, drop)\n", sub)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintf(stderr, "pump: dlq %s: %v\n", sub, err)
		return exitFailed
	}
	return exitOK
}

// pickSource is the source named key, or the only one when key is "".
func pickSource(cfg config.Config, key string) (config.Input, error) {
	sources := cfg.SourceList()
	var keys []string
	for _, s := range sources {
		if s.Key == key || key == "" && len(sources) == 1 {
			return s, nil
		}
		keys = append(keys, s.Key)
	}
	if key == "" {
		return config.Input{}, fmt.Errorf("--source: the configuration drains %d sources (%s): name one", len(sources), strings.Join(keys, ", "))
	}
	return config.Input{}, fmt.Errorf("--source: no source %q in the configuration (%s)", key, strings.Join(keys, ", "))
}

func dlqList(ctx context.Context, q *storage.Queue, limit int64, w io.Writer) error {
	if limit <= 0 {
		limit = 20
	}
	total, err := q.Len(ctx, q.DeadKey())
	if err != nil {
		return err
	}
	entries, err := q.Peek(ctx, q.DeadKey(), 0, limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d dead letters in %s", total, q.DeadKey())
	if int64(len(entries)) < total {
		fmt.Fprintf(w, " (showing the oldest %d)", len(entries))
	}
	fmt.Fprintln(w)
	for i, e := range entries {
		d, err := pump.DecodeDeadLetter(e)
		if err != nil {
			fmt.Fprintf(w, "%4d  (not an envelope: %d bytes)\n", i, len(e))
			continue
		}
		pumpName := d.Pump
		if pumpName == "" {
			pumpName = "-"
		}
		fmt.Fprintf(w, "%4d  %s  pump=%s  %d bytes  %s\n      raw: %s\n", i, d.Time.Format(time.RFC3339), pumpName,
			len(d.Raw), d.Reason, preview(d.Raw))
	}
	return nil
}

func preview(b []byte) string {
	const max = 60
	s := strconv.Quote(string(b[:min(len(b), max)]))
	if len(b) > max {
		s += "..."
	}
	return s
}

// dlqReplay replays dead letters: with pumpName, the letters of that pump
// (and, asked, the undecodable ones) are written to it through the loop's
// delivery path; without, each letter moves to the parked list of the pump
// that refused it, for the running daemon to replay. Letters not taken stay
// exactly where they are.
func dlqReplay(ctx context.Context, cfg config.Config, src config.Input, q *storage.Queue, r pump.DeadReplay, w, stderr io.Writer) error {
	if r.IncludeUndecodable && r.Pump == "" && src.Mode == config.ModeStreams {
		// Their way back is the main list, which a stream source has not.
		return fmt.Errorf("--include-undecodable without --pump: the undecodable letters of stream %s can go back only through a pump (--pump NAME)", q.Key())
	}
	var outputs []*pump.Output
	for _, name := range slices.Sorted(maps.Keys(cfg.Pumps)) {
		outputs = append(outputs, &pump.Output{Name: name, Config: cfg.Pumps[name]})
	}
	if r.Pump != "" {
		pc, ok := cfg.Pumps[r.Pump]
		if !ok {
			return fmt.Errorf("no pump %q in the configuration", r.Pump)
		}
		info, _ := pumps.Lookup(pc.Type)
		sink := info.New()
		if err := sink.Configure(pc.Meta); err != nil {
			return fmt.Errorf("pumps.%s: %w", r.Pump, err)
		}
		if err := sink.Init(ctx); err != nil {
			return fmt.Errorf("pump %s: start: %w", r.Pump, err)
		}
		defer sink.Close(context.Background())
		for _, out := range outputs {
			if out.Name == r.Pump {
				out.Sink = sink
			}
		}
	}
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.AddSync(stderr), zap.WarnLevel))
	loop := pump.New(pump.Options{Settings: loopSettings(cfg, src), Queue: q, Outputs: outputs, Logger: log, Health: pump.NewHealth(time.Hour)})
	rep, err := loop.ReplayDead(ctx, r)
	if r.Pump != "" {
		fmt.Fprintf(w, "replayed %d dead letters into pump %s; %d refused again (still dead, with the new reason), %d left out by its filters, %d not taken\n",
			rep.Written, r.Pump, rep.Refused, rep.Filtered, rep.Skipped)
	} else {
		fmt.Fprintf(w, "moved %d dead letters to the parked lists of their pumps (undecodable ones to %s), replayed by the running daemon; %d not taken\n",
			rep.Moved, q.Key(), rep.Skipped)
	}
	return err
}
