package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/produce"
)

// produceChunk bounds what one round of encoding holds in memory.
const produceChunk = 10000

func cmdProduce(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("produce", pflag.ContinueOnError)
	path := config.AddConfigFlag(fs)
	config.AddKeyFlags(fs, "redis", "analytics-key")
	mode := fs.String("mode", string(produce.List), "where records go: list (RPUSH) or streams (XADD) (default: the configured source's mode)")
	key := fs.String("key", "", "the list or stream (default: the configured source's key, analytics-key without sources)")
	field := fs.String("field", "data", "streams: the entry field that holds the record (default: the configured source's)")
	count := fs.Int("count", 1000, "how many records to send")
	prefix := fs.String("id-prefix", "", `records carry "id=PREFIX-N" in their conclusion (default: produce- and the time)`)
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if !noArgs(fs, stderr) {
		return exitConfig
	}
	if *count < 0 {
		fmt.Fprintf(stderr, "pump: --count %d: want 0 or more\n", *count)
		return exitConfig
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	// What the daemon of this file drains, unless the flags say otherwise.
	src := cfg.SourceList()[0]
	if *key == "" {
		*key = src.Key
	}
	if !fs.Changed("mode") {
		*mode = src.Mode
	}
	if !fs.Changed("field") && src.Mode == config.ModeStreams {
		*field = src.Field
	}
	m, err := produce.ParseMode(*mode)
	if err != nil {
		fmt.Fprintf(stderr, "pump: --mode: %v\n", err)
		return exitConfig
	}
	if *prefix == "" {
		*prefix = "produce-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	client, err := newRedisClient(cfg.Redis)
	if err != nil {
		fmt.Fprintf(stderr, "pump: %v\n", err)
		return exitFailed
	}
	defer client.Close()
	p, err := produce.New(client, produce.Options{Mode: m, Key: *key, Field: *field})
	if err != nil {
		fmt.Fprintf(stderr, "pump: %v\n", err)
		return exitFailed
	}
	// Ctrl-C stops between rounds; what was sent is still reported.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gen := produce.NewGenerator(*prefix, uint64(time.Now().UnixNano()))
	sent := 0
	for sent < *count && ctx.Err() == nil {
		// Not ctx: a round cancelled mid-flight may still land, and then
		// the count would miss it.
		n, err := p.Send(context.Background(), gen.Records(min(produceChunk, *count-sent), time.Now()))
		sent += n
		if err != nil {
			fmt.Fprintf(stderr, "pump: produce: %v\n", err)
			fmt.Fprintf(stdout, "sent %d records to %s %s\n", sent, m, *key)
			return exitFailed
		}
	}
	fmt.Fprintf(stdout, "sent %d records to %s %s\n", sent, m, *key)
	return exitOK
}
