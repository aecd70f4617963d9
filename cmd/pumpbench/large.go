package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/pumpd/pump/analytics"
)

// The jsonl-large line: large records through a jsonl pump with default
// settings. Its figure is the pump's peak RSS, which must not follow the
// records' size times batch-size.
const (
	largeRecords   = 2500
	largeSize      = 400 << 10 // bytes of request in each
	hugeSize       = 24 << 20  // one record this big, among them
	hugeAt         = largeRecords / 2
	largeLineLimit = hugeSize // a JSON line at least this long is the huge record's
)

// largeRecord returns the i-th record of the line: a request of size bytes
// of JSON text (quotes to escape every few bytes, as iam's requests have),
// made distinct by i.
func largeRecord(i, size int) analytics.Record {
	r := record(i)
	head := fmt.Sprintf(`{"resource":"resources:articles:%010d","context":{"blob":[`, i)
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString(head)
	for b.Len() < size {
		b.WriteString(`"ladon",`)
	}
	b.WriteString(`"end"]}}`)
	r.Request = b.String()
	return r
}

// seedLarge fills the list with largeRecords records of ~400 KB, the one
// of hugeSize in the middle, and returns how many it pushed.
func seedLarge(c *redis.Client, _ int) (int, error) {
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		return 0, err
	}
	ctx := context.Background()
	const chunk = 20 // ~8 MB a command
	n := largeRecords + 1
	for start := 0; start < n; start += chunk {
		vals := make([]any, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			size := largeSize
			if i == hugeAt {
				size = hugeSize
			}
			r := largeRecord(i, size)
			b, err := analytics.Encode(&r)
			if err != nil {
				return 0, err
			}
			vals = append(vals, b)
		}
		if err := c.RPush(ctx, key, vals...).Err(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func setupJSONLLarge(e *env, _ int) (*target, error) {
	dir, err := freshDir(e, "jsonl-large")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "out.jsonl")
	return &target{
		meta:    fmt.Sprintf("{path: %q}", path),
		server:  "a file in the temp dir (fsync per batch), records of ~400 KB and one of 24 MiB, default settings",
		checked: "lines in the file, the 24 MiB one among them",
		count:   func(string) (int, error) { return countLargeLines(path) },
		close:   func() { os.RemoveAll(dir) },
	}, nil
}

// countLargeLines counts the lines of path and checks that exactly one of
// them is the huge record's.
func countLargeLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	lines, huge, length := 0, 0, 0
	for {
		chunk, err := r.ReadSlice('\n')
		length += len(chunk)
		if err == bufio.ErrBufferFull {
			continue
		}
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			lines++
			if length > largeLineLimit {
				huge++
			}
			length = 0
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return lines, err
		}
	}
	if huge != 1 {
		return lines, fmt.Errorf("%d lines of more than %d bytes, want the one huge record", huge, largeLineLimit)
	}
	return lines, nil
}
