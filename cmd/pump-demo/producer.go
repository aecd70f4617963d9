package main

import (
	"context"
	"encoding/csv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/produce"
	"github.com/pumpd/pump/storage"
)

// produceRecords RPUSHes distinct records as iam's authorization server
// would, rate a second, until ctx ends.
func produceRecords(ctx context.Context, client storage.Client, rate int, n *atomic.Int64) error {
	p, err := produce.New(client, produce.Options{Mode: produce.List, Key: analytics.DefaultKey})
	if err != nil {
		return err
	}
	gen := produce.NewGenerator("demo-"+strconv.FormatInt(time.Now().UnixNano(), 36), rand.Uint64())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/10, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// Not ctx: a push cancelled mid-flight may still land, and then the
		// count would miss it.
		sent, err := p.Send(context.Background(), gen.Records(perTick, time.Now()))
		n.Add(int64(sent))
		if err != nil {
			return err
		}
	}
}

// countCSVRows counts the records in the CSV files, headers excluded.
func countCSVRows(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	rows := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		all, _ := csv.NewReader(f).ReadAll()
		f.Close()
		rows += max(len(all)-1, 0)
	}
	return rows
}
