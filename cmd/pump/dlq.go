package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

func cmdDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: pump dlq list [--limit N] | replay [--pump NAME] [--limit N] | drop --yes   (with -c FILE)")
		return exitConfig
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("dlq "+sub, pflag.ContinueOnError)
	path := config.AddFlags(fs)
	limit := fs.Int64("limit", 0, "at most this many entries (0: all for replay, 20 for list)")
	pumpName := fs.String("pump", "", "replay: write straight to this pump instead of the tail of the main list")
	yes := fs.Bool("yes", false, "drop: really delete every dead letter")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		fmt.Fprintf(stderr, "pump: %v\n", err)
		return exitFailed
	}
	defer client.Close()
	q := storage.NewQueue(client, cfg.AnalyticsKey, "dlq", cfg.LeaseTTL.D())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	switch sub {
	case "list":
		err = dlqList(ctx, q, *limit, stdout)
	case "replay":
		err = dlqReplay(ctx, cfg, q, *pumpName, *limit, stdout)
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

// dlqReplay moves dead letters back: to the tail of the main list, or
// straight into one pump (entries it cannot take stay dead).
func dlqReplay(ctx context.Context, cfg config.Config, q *storage.Queue, pumpName string, limit int64, w io.Writer) error {
	var sink pumps.Sink
	if pumpName != "" {
		pc, ok := cfg.Pumps[pumpName]
		if !ok {
			return fmt.Errorf("no pump %q in the configuration", pumpName)
		}
		info, _ := pumps.Lookup(pc.Type)
		sink = info.New()
		if err := sink.Configure(pc.Meta); err != nil {
			return err
		}
		if err := sink.Init(ctx); err != nil {
			return err
		}
		defer sink.Close(context.Background())
	}
	total, err := q.Len(ctx, q.DeadKey())
	if err != nil {
		return err
	}
	if limit <= 0 || limit > total {
		limit = total
	}
	var moved, kept int64
	for done := int64(0); done < limit; {
		entries, err := q.Peek(ctx, q.DeadKey(), 0, min(int64(cfg.BatchSize), limit-done))
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			break
		}
		var toMain, keep [][]byte
		var recs []analytics.Record
		for _, e := range entries {
			d, err := pump.DecodeDeadLetter(e)
			if err != nil {
				keep = append(keep, e)
				continue
			}
			if sink == nil {
				toMain = append(toMain, d.Raw)
				continue
			}
			rec, err := analytics.Decode(d.Raw)
			if err != nil {
				keep = append(keep, e)
				continue
			}
			recs = append(recs, rec)
		}
		if sink != nil && len(recs) > 0 {
			if err := sink.Write(ctx, recs); err != nil {
				return fmt.Errorf("pump %s: %w", pumpName, err)
			}
		}
		if err := q.MoveHead(ctx, q.DeadKey(), storage.FingerprintOf(entries), q.Key(), toMain, keep); err != nil {
			if errors.Is(err, storage.ErrHeadChanged) {
				return fmt.Errorf("%w: another dlq command is running?", err)
			}
			return err
		}
		done += int64(len(entries))
		moved += int64(len(entries) - len(keep))
		kept += int64(len(keep))
	}
	dest := "the tail of " + q.Key()
	if sink != nil {
		dest = "pump " + pumpName
	}
	fmt.Fprintf(w, "replayed %d dead letters to %s; %d could not be and stay dead\n", moved, dest, kept)
	return nil
}
