package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/storage"
)

var demoUsers = []string{"peter", "maria", "ken", "admin", "ops-bot"}

// produce RPUSHes records as iam's authorization server would, rate a
// second, until ctx ends.
func produce(ctx context.Context, list *storage.Queue, rate int, n *atomic.Int64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/10, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		vals := make([][]byte, 0, perTick)
		for range perTick {
			rec := demoRecord()
			b, err := analytics.Encode(&rec)
			if err != nil {
				return err
			}
			vals = append(vals, b)
		}
		// Not ctx: a push cancelled mid-flight may still land, and then the
		// count would miss it.
		if err := list.Push(context.Background(), list.Key(), vals); err != nil {
			return err
		}
		n.Add(int64(len(vals)))
	}
}

func demoRecord() analytics.Record {
	user := demoUsers[rand.IntN(len(demoUsers))]
	effect, conclusion := "allow", "policies 68819e5a allow access"
	if rand.IntN(4) == 0 {
		effect, conclusion = "deny", "policy deny-all-printers forcefully denied the access"
	}
	now := time.Now()
	return analytics.Record{
		TimeStamp:  now.Unix(),
		Username:   user,
		Effect:     effect,
		Conclusion: conclusion,
		Request:    fmt.Sprintf(`{"resource":"resources:printer","action":"print","subject":"users:%s","context":{"remoteIP":"192.168.0.%d"}}`, user, rand.IntN(254)+1),
		Policies:   `[{"id":"68819e5a","effect":"allow","subjects":["users:<peter|ken>"],"resources":["resources:<.*>"]}]`,
		Deciders:   `[{"id":"68819e5a","effect":"allow"}]`,
		ExpireAt:   now.AddDate(100, 0, 0),
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
