package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// A benchSink is one line of the table: a sink type and how to set up what
// receives its records.
type benchSink struct {
	name string
	// typ is the sink type when name is not one (a fan-out line).
	typ string
	// slow sinks drain -slow-records records instead of -records.
	slow bool
	// syncs: the line counts the pump's fdatasync calls (the file sinks).
	syncs bool
	// workers is the pump's workers (batches written at once; 0: its
	// default, 1), for the sinks that are pumps.Concurrent.
	workers int
	// redis holds extra keys of the pump's redis section, as entries of a
	// YAML flow mapping ("optimisation-max-idle: 2000, ...").
	redis string
	// stream: the pumps drain a stream through a consumer group (a
	// sources entry in mode streams) instead of the list.
	stream bool
	// instances is how many pump processes drain at once, each with its own
	// instance-id and health port (0: one).
	instances int
	// seed, when set, fills the list (or stream) with the line's own records
	// instead of -records of the usual ones on the list, and returns how
	// many; n is -records.
	seed  func(c *redis.Client, n int) (int, error)
	setup func(e *env, n int) (*target, error)
}

// A target is one sink's benchmark set-up: the pump's meta for it, the
// server that receives the records and a way to count them there.
type target struct {
	meta string // the pump's meta, a YAML flow mapping
	// metas, when set, fans out: one pump of the line's type per meta.
	metas  []string
	server string // what receives the records, for the table
	inProc bool   // the server runs inside pumpbench and competes with the pump for the CPU
	// count returns how many records the server holds; metrics is the
	// pump's /metrics scraped just before it was stopped. nil: only the
	// pump's own counter checks the drain.
	count   func(metrics string) (int, error)
	checked string // what count counts, for the table
	// limit, for the database lines, loads the same n records into the
	// same server with its bulk interface after the pump's drain was
	// checked, and says how long that took.
	limit  func(n int) (*limit, error)
	stdout io.Writer // the pump's standard output, for the stdout sink
	// filterExpr, when set, is the pumps' filters.expr.
	filterExpr string
	close      func()
}

// skipError marks a sink that cannot be benchmarked on this machine.
type skipError struct{ reason string }

func (s skipError) Error() string { return "skipped: " + s.reason }

func skip(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

// lineWorkers is the workers of the database and broker lines: their
// sinks are pumps.Concurrent, and a write waits on the server's round trips
// and commits, which several in flight overlap.
const lineWorkers = 4

// sinks are the benchmarked sinks, in the order of the table: one per sink
// that ships in pumps/ (except the test-only faulty sink).
var sinks = []benchSink{
	{name: "dummy", setup: setupDummy},
	streamSinks[0], streamSinks[1],
	// iam's documented production pool: the pump's memory must not grow
	// with pool sizes it never fills.
	{name: "dummy-iam-pool", typ: "dummy", redis: "optimisation-max-idle: 2000, optimisation-max-active: 4000", setup: setupDummy},
	{name: "jsonl", syncs: true, setup: setupJSONL},
	// Large records: the pump's memory is bounded in bytes, not records.
	{name: "jsonl-large", typ: "jsonl", seed: seedLarge, setup: setupJSONLLarge},
	{name: "csv", syncs: true, setup: setupCSV},
	// The same without fsync: what the two lines above could reach at best.
	{name: "jsonl-nofsync", typ: "jsonl", syncs: true, setup: withoutFsync(setupJSONL)},
	{name: "csv-nofsync", typ: "csv", syncs: true, setup: withoutFsync(setupCSV)},
	{name: "stdout", setup: setupStdout},
	{name: "prometheus", setup: setupPrometheus},
	{name: "http", setup: setupHTTP},
	{name: "syslog", setup: setupSyslog},
	{name: "kafka", workers: lineWorkers, setup: setupKafka},
	{name: "elasticsearch", slow: true, workers: lineWorkers, setup: setupElasticsearch},
	{name: "postgres", slow: true, workers: lineWorkers, setup: setupPostgres},
	{name: "mongo", slow: true, workers: lineWorkers, setup: setupMongo},
	{name: "influx", slow: true, workers: lineWorkers, setup: setupInflux},
	// Fan-outs last: jsonl-x3 writes three times the data, whose writeback
	// would slow the file sinks measured after it.
	{name: "syslog-x3", typ: "syslog", setup: fanOut(3, setupSyslog)},
	{name: "jsonl-x3", typ: "jsonl", syncs: true, setup: setupJSONLFanOut},
}

// selectSinks resolves the -sinks flag: "all" or a comma-separated list.
func selectSinks(flagValue string) ([]benchSink, error) {
	if strings.TrimSpace(flagValue) == "all" {
		return sinks, nil
	}
	var out []benchSink
	for _, name := range strings.Split(flagValue, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(sinks, func(b benchSink) bool { return b.name == name })
		if i < 0 {
			var names []string
			for _, b := range sinks {
				names = append(names, b.name)
			}
			return nil, fmt.Errorf("-sinks: no benchmark for sink %q; have all, %s", name, strings.Join(names, ", "))
		}
		out = append(out, sinks[i])
	}
	if len(out) == 0 {
		return nil, errors.New("-sinks: no sink named")
	}
	return out, nil
}

func setupDummy(*env, int) (*target, error) {
	return &target{meta: "{}", server: "none (the sink counts and writes nothing)"}, nil
}

func setupJSONL(e *env, _ int) (*target, error) {
	dir, err := freshDir(e, "jsonl")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "out.jsonl")
	return &target{
		meta:    fmt.Sprintf("{path: %q}", path),
		server:  "a file in the temp dir (fdatasync before the trim)",
		checked: "lines in the file",
		count: func(string) (int, error) {
			f, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			return countLines(f)
		},
		close: func() { os.RemoveAll(dir) },
	}, nil
}

// setupJSONLFanOut drains into three jsonl pumps at once, which share one
// JSON encoding of each record.
func setupJSONLFanOut(e *env, _ int) (*target, error) {
	dir, err := freshDir(e, "jsonl-x3")
	if err != nil {
		return nil, err
	}
	var metas, paths []string
	for i := range 3 {
		path := filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", i+1))
		paths = append(paths, path)
		metas = append(metas, fmt.Sprintf("{path: %q}", path))
	}
	return &target{
		metas:   metas,
		server:  "three files in the temp dir (fdatasync before the trim, each)",
		checked: "lines in each of the three files",
		count: func(string) (int, error) {
			var counts []int
			for _, path := range paths {
				f, err := os.Open(path)
				if err != nil {
					return 0, err
				}
				c, err := countLines(f)
				f.Close()
				if err != nil {
					return 0, err
				}
				counts = append(counts, c)
			}
			if slices.Min(counts) != slices.Max(counts) {
				return 0, fmt.Errorf("the files hold %v lines, want the same in each", counts)
			}
			return counts[0], nil
		},
		close: func() { os.RemoveAll(dir) },
	}, nil
}

// fanOut drains into k pumps that all send to the one server setup makes;
// the server must count every message it receives.
func fanOut(k int, setup func(*env, int) (*target, error)) func(*env, int) (*target, error) {
	return func(e *env, n int) (*target, error) {
		t, err := setup(e, n)
		if err != nil {
			return nil, err
		}
		for range k {
			t.metas = append(t.metas, t.meta)
		}
		t.server = fmt.Sprintf("%d pumps into one %s", k, t.server)
		t.checked = fmt.Sprintf("%s, divided by %d", t.checked, k)
		count := t.count
		t.count = func(metrics string) (int, error) {
			total, err := count(metrics)
			if err != nil || total%k != 0 {
				return 0, errors.Join(err, fmt.Errorf("%d messages for %d pumps", total, k))
			}
			return total / k, nil
		}
		return t, nil
	}
}

func setupCSV(e *env, _ int) (*target, error) {
	dir, err := freshDir(e, "csv")
	if err != nil {
		return nil, err
	}
	return &target{
		meta:    fmt.Sprintf("{csv_dir: %q}", dir),
		server:  "hourly files in the temp dir (fdatasync before the trim)",
		checked: "CSV rows after the headers",
		count:   func(string) (int, error) { return countCSVRows(dir) },
		close:   func() { os.RemoveAll(dir) },
	}, nil
}

// withoutFsync turns fsync off in a file sink's meta.
func withoutFsync(setup func(*env, int) (*target, error)) func(*env, int) (*target, error) {
	return func(e *env, n int) (*target, error) {
		t, err := setup(e, n)
		if err != nil {
			return nil, err
		}
		t.meta = strings.TrimSuffix(t.meta, "}") + ", fsync: false}"
		t.server = strings.Replace(t.server, "(fdatasync before the trim)", "(fsync: false)", 1)
		return t, nil
	}
}

func setupStdout(*env, int) (*target, error) {
	w := &lineCounter{}
	return &target{
		meta:    "{}",
		server:  "a pipe read by pumpbench",
		inProc:  true,
		stdout:  w,
		checked: "lines read from the pump's stdout",
		count:   func(string) (int, error) { return int(w.lines.Load()), nil },
	}, nil
}

func setupPrometheus(*env, int) (*target, error) {
	return &target{
		meta:    "{}",
		server:  "none (counters on the pump's /metrics)",
		checked: "sum of iam_user_authorization_status_total scraped from /metrics",
		count: func(metrics string) (int, error) {
			return int(metricSum(metrics, "iam_user_authorization_status_total", "")), nil
		},
	}, nil
}

func freshDir(e *env, name string) (string, error) {
	dir := filepath.Join(e.work, "out-"+name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// countLines counts newline characters.
func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// countCSVRows parses every CSV file of dir (quoting and all) and counts
// the rows after each file's header.
func countCSVRows(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		r := csv.NewReader(f)
		r.ReuseRecord = true
		rows := 0
		for {
			_, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return 0, fmt.Errorf("%s: %w", path, err)
			}
			rows++
		}
		f.Close()
		if rows > 0 {
			n += rows - 1
		}
	}
	return n, nil
}

// lineCounter is an io.Writer that counts the lines written to it.
type lineCounter struct{ lines atomic.Int64 }

func (w *lineCounter) Write(p []byte) (int, error) {
	w.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}
