// Command pumpbench measures the pump's drain rate against the raw ceiling
// in one run: it starts its own redis-server, seeds N distinct iam records,
// times an at-most-once LPOP+decode loop (the ceiling), then the real pump
// binary draining into each sink that ships in pumps/, each into a real
// server (or the test server of the sink's own tests), and prints
// records/s, the ratio to the ceiling and the pump's peak RSS. Every drain
// is checked at the end: the pump's counters, no dead letters or parked
// records, and exactly N records counted on the receiving side.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// env is what every drain shares.
type env struct {
	work      string // temporary directory, removed at exit
	bin       string // the pump binary, built from ./cmd/pump unless -pump names one
	batch     int    // the pump's batch-size, 0: its default
	readAhead int    // the pump's read-ahead, 0: its default
	workers   int    // the workers of the lines that set them, 0: each line's own
	ferretdb  string // the FerretDB test server binary, "": find or build it
	postgres  string // URL of a PostgreSQL superuser on the maintenance database
	redisPid  int    // the run's redis-server, whose CPU each line reads
}

type result struct {
	name    string
	records int
	took    time.Duration
	rssKB   int64
	server  string        // where the records went
	inProc  bool          // that server shares pumpbench's process (and CPU)
	slow    bool          // drained -slow-records records
	check   string        // what was checked at the end
	skipped string        // why the line was not measured
	err     error         // why the measurement is no result
	cpu     time.Duration // the pump process's user+system CPU, 0: not known
	// redisCPU is redis-server's user+system CPU over the drain (the
	// pump's start to its exit), 0: not known.
	redisCPU time.Duration
	// serverCPU is pumpbench's own CPU over the drain, for a line whose
	// server runs in it (inProc), 0: not known.
	serverCPU time.Duration
	workers   int  // the pump's workers, 0: not a pump line
	stream    bool // drained from a stream through a consumer group
	// instances is how many pump processes drained at once (0 or 1: one):
	// cpu is their sum, rssKB the largest one's.
	instances int
	// fdatasyncs is how many fdatasync calls the pump made, for the lines
	// that count them; syncsWhy says why they could not be counted.
	fdatasyncs   int64
	syncsCounted bool
	syncsWhy     string
	batches      float64 // batches the pump read (pump_batch_size_records_count)
	// limit is the receiving server's own rate for the same records, for
	// the database lines; limitErr says why it was not measured.
	limit    *limit
	limitErr error
}

// A limit is what the receiving server takes at best: the same records
// loaded with its bulk interface, measured in the same run.
type limit struct {
	records int
	took    time.Duration
	how     string // what was loaded, and how
	// cpu is pumpbench's CPU over the timed load, for a server in its
	// process (client and server together), 0: not known.
	cpu time.Duration
}

func (l *limit) rate() float64 { return float64(l.records) / l.took.Seconds() }

// limitRatio is the line's records/s over its server's limit.
func (r result) limitRatio() string {
	if r.limit == nil || !r.measured() {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.rate()/r.limit.rate())
}

func (r result) limitRate() string {
	if r.limit == nil {
		return "-"
	}
	return strconv.Itoa(int(r.limit.rate()))
}

// workersCol is the pump's workers, "-" for the ceilings.
func (r result) workersCol() string {
	if r.workers == 0 {
		return "-"
	}
	return strconv.Itoa(r.workers)
}

// cpuPerMillion is the pump's CPU-seconds per million records.
func (r result) cpuPerMillion() string {
	if r.cpu <= 0 || r.records == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.cpu.Seconds()*1e6/float64(r.records))
}

// redisCPUPerMillion is redis-server's CPU-seconds per million records.
// cpuBudget compares the CPU the line's processes spent per million
// records (the pump's, redis-server's and the in-process server's) with its
// limit's (client and server), when both are known: on a machine whose
// cores they share, that is what bounds the line.
func (r result) cpuBudget() string {
	if r.limit == nil || r.limit.cpu <= 0 || r.serverCPU <= 0 || r.cpu <= 0 || r.redisCPU <= 0 {
		return ""
	}
	perM := func(d time.Duration, n int) float64 { return d.Seconds() * 1e6 / float64(n) }
	line := perM(r.cpu+r.redisCPU+r.serverCPU, r.records)
	return fmt.Sprintf("%.2f CPU-s per million records (client and server), the line %.2f (the pump %.2f, redis-server %.2f, the server %.2f)",
		perM(r.limit.cpu, r.limit.records), line, perM(r.cpu, r.records), perM(r.redisCPU, r.records), perM(r.serverCPU, r.records))
}

func (r result) redisCPUPerMillion() string {
	if r.redisCPU <= 0 || r.records == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.redisCPU.Seconds()*1e6/float64(r.records))
}

// syncsPerBatch is the pump's fdatasync calls per batch it read.
func (r result) syncsPerBatch() string {
	if !r.syncsCounted || r.batches == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(r.fdatasyncs)/r.batches)
}

func (r result) rate() float64 {
	if r.took <= 0 {
		return 0
	}
	return float64(r.records) / r.took.Seconds()
}

func (r result) measured() bool { return r.skipped == "" && r.err == nil && r.took > 0 }

func main() {
	n := flag.Int("records", 1_000_000, "records to seed for each drain")
	slowN := flag.Int("slow-records", 200_000, "records for the slow sinks (elasticsearch, postgres, mongo, influx), at most -records")
	sinkList := flag.String("sinks", "all", `comma-separated sinks to drain into, or "all"`)
	out := flag.String("out", "", "also write the table to this Markdown file")
	batch := flag.Int("batch-size", 0, "the pump's batch-size (0: its default)")
	readAhead := flag.Int("read-ahead", 0, "the pump's read-ahead (0: its default, or workers+2 for a line with workers)")
	workers := flag.Int("workers", 0, "the pump's workers for the database lines (0: each line's own; 1: one write at a time)")
	ferretdb := flag.String("ferretdb", "", "the FerretDB test server binary (make builds bin/ferretdb-test; default: $PUMP_TEST_FERRETDB, else built from internal/testing/testenv/mongo)")
	pumpBin := flag.String("pump", "", "drain with this pump binary instead of building ./cmd/pump (to compare two builds in alternating runs)")
	postgres := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL server for the postgres sink: a user that may create databases, on an existing database")
	flag.Parse()
	if *n <= 0 || *slowN <= 0 {
		fmt.Fprintln(os.Stderr, "pumpbench: -records and -slow-records must be positive")
		os.Exit(2)
	}
	selected, err := selectSinks(*sinkList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pumpbench:", err)
		os.Exit(2)
	}
	handleInterrupts()
	e := &env{bin: *pumpBin, batch: *batch, readAhead: *readAhead, workers: *workers, ferretdb: *ferretdb, postgres: *postgres}
	if err := run(e, *n, min(*slowN, *n), selected, *sinkList == "all", *out); err != nil {
		fmt.Fprintln(os.Stderr, "pumpbench:", err)
		os.Exit(1)
	}
}

func run(e *env, n, slowN int, selected []benchSink, all bool, out string) error {
	work, err := os.MkdirTemp("", "pumpbench-")
	if err != nil {
		return err
	}
	defer onExit(func() { os.RemoveAll(work) })()
	e.work = work
	if e.bin == "" {
		e.bin = filepath.Join(work, "pump")
		build := exec.Command("go", "build", "-o", e.bin, "./cmd/pump")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the pump: %w", err)
		}
	} else if e.bin, err = filepath.Abs(e.bin); err != nil {
		return fmt.Errorf("-pump: %w", err)
	}
	var unbenched []string
	if all {
		unbenched = notBenchmarked(e.bin)
		for _, s := range unbenched {
			fmt.Fprintf(os.Stderr, "pumpbench: warning: the pump registers sink %q, which has no benchmark here\n", s)
		}
	}
	loadStart := loadAverage()
	port, redisPid, stopRedis, err := startRedis(work)
	if err != nil {
		return err
	}
	defer onExit(stopRedis)()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer client.Close()

	fmt.Fprintf(os.Stderr, "seeding %d distinct records of ~%d bytes\n", n, len(encoded(0)))
	if err := seed(client, n); err != nil {
		return err
	}
	e.redisPid = redisPid
	redisBefore := procCPU(redisPid)
	ceiling, err := rawDrain(client, n, "ceiling: LPOP 1000 + decode (unsafe)")
	if err != nil {
		return err
	}
	ceiling.redisCPU = procCPU(redisPid) - redisBefore
	results := []result{ceiling}
	report(ceiling, ceiling)
	failed := 0
	for _, b := range selected {
		r := drainInto(e, port, client, b, n, slowN)
		if r.err != nil {
			failed++
		}
		results = append(results, r)
		report(r, ceiling)
		runtime.GC()
		debug.FreeOSMemory() // what an in-process server held goes back before the next drain
	}
	// The ceiling again: if it moved much, the machine's speed changed
	// during the run and the ratios above are less trustworthy.
	if err := seed(client, n); err != nil {
		return err
	}
	redisBefore = procCPU(redisPid)
	again, err := rawDrain(client, n, "ceiling again, at the end of the run")
	if err != nil {
		return err
	}
	again.redisCPU = procCPU(redisPid) - redisBefore
	results = append(results, again)
	report(again, ceiling)
	if out != "" {
		load := fmt.Sprintf("load average %s at the start, %s at the end", loadStart, loadAverage())
		if err := writeMarkdown(out, results, n, slowN, unbenched, load); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d drains failed their checks (see the table)", failed, len(selected))
	}
	return nil
}

// drainInto sets up one sink's server, seeds the list and drains it with
// the pump. A failure is kept in the result rather than ending the run.
func drainInto(e *env, port int, client *redis.Client, b benchSink, n, slowN int) result {
	slow := b.slow && slowN < n
	if slow {
		n = slowN
	}
	r := result{name: "pump → " + b.name + " (at-least-once)", records: n, slow: slow}
	fmt.Fprintf(os.Stderr, "%s: setting up\n", b.name)
	t, err := b.setup(e, n)
	var s skipError
	if errors.As(err, &s) {
		r.skipped = s.reason
		return r
	}
	if err != nil {
		r.err = err
		return r
	}
	if t.close != nil {
		defer onExit(t.close)()
	}
	r.server, r.inProc = t.server, t.inProc
	if b.seed != nil {
		syscall.Sync() // as seed does
		n, err = b.seed(client, n)
	} else {
		err = seed(client, n)
	}
	if err != nil {
		r.err = err
		return r
	}
	r.records = n
	fmt.Fprintf(os.Stderr, "%s: draining %d records\n", b.name, n)
	got, err := pumpDrain(e, port, b, t, client, n)
	got.slow = slow
	got.err = err
	if err == nil && t.limit != nil {
		fmt.Fprintf(os.Stderr, "%s: measuring the server's limit with the same %d records\n", b.name, n)
		got.limit, got.limitErr = t.limit(n)
	}
	return got
}

// notBenchmarked lists the sinks the pump registers that have no line in
// the table (the test-only faulty sink is not in a normal build).
func notBenchmarked(bin string) []string {
	outb, err := exec.Command(bin, "plugins").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pumpbench: warning: pump plugins: %v\n", err)
		return nil
	}
	var missing []string
	inSinks := false
	for _, line := range strings.Split(string(outb), "\n") {
		switch {
		case strings.HasPrefix(line, "sinks"):
			inSinks = true
		case !strings.HasPrefix(line, " "):
			inSinks = false
		case inSinks:
			name := strings.Fields(line)[0]
			if !slices.ContainsFunc(sinks, func(b benchSink) bool { return b.name == name }) {
				missing = append(missing, name)
			}
		}
	}
	return missing
}

func report(r, ceiling result) {
	switch {
	case r.skipped != "":
		fmt.Printf("%-44s skipped: %s\n", r.name, r.skipped)
	case r.err != nil && r.took == 0:
		fmt.Printf("%-44s FAILED: %v\n", r.name, r.err)
	case r.err != nil:
		fmt.Printf("%-44s %9s records %9d records/s  %5.2fx ceiling  peak RSS %s  FAILED: %v\n",
			r.name, thousands(r.records), int(r.rate()), r.rate()/ceiling.rate(), rss(r.rssKB), r.err)
	default:
		fmt.Printf("%-44s %9s records %9d records/s  %5.2fx ceiling  peak RSS %-10s %s\n",
			r.name, thousands(r.records), int(r.rate()), r.rate()/ceiling.rate(), rss(r.rssKB), r.check)
	}
	if r.cpu > 0 {
		procs := ""
		if r.instances > 1 {
			procs = fmt.Sprintf(" (CPU summed over %d processes, peak RSS the largest's)", r.instances)
		}
		fmt.Printf("%-44s CPU %s s per million records, fdatasyncs per batch %s, workers %s%s\n", "", r.cpuPerMillion(), r.syncsPerBatch(), r.workersCol(), procs)
	}
	if r.redisCPU > 0 {
		fmt.Printf("%-44s redis-server's CPU %s s per million records\n", "", r.redisCPUPerMillion())
	}
	switch {
	case r.limit != nil:
		fmt.Printf("%-44s server's limit %d records/s (%s): %sx of it\n", "", int(r.limit.rate()), r.limit.how, r.limitRatio())
		if b := r.cpuBudget(); b != "" {
			fmt.Printf("%-44s the limit took %s\n", "", b)
		}
	case r.limitErr != nil:
		fmt.Printf("%-44s server's limit not measured: %v\n", "", r.limitErr)
	}
	if r.server != "" && r.server != "-" {
		where := r.server
		if r.inProc {
			where += " (in-process: competes with the pump for the CPU)"
		}
		fmt.Printf("%-44s into %s\n", "", strings.ReplaceAll(where, "**", ""))
	}
}

func rss(kb int64) string {
	if kb == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

// thousands writes n with comma separators: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func writeMarkdown(path string, results []result, n, slowN int, unbenched []string, load string) error {
	ceiling := results[0]
	var b strings.Builder
	fmt.Fprintf(&b, "# Drain benchmark\n\n`make bench` (cmd/pumpbench), %s. See bench/README.md for what the lines mean.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s; %s; %s; %s. Distinct iam records of ~%d bytes, one redis-server on loopback.\n\n",
		cpuModel(), runtime.NumCPU(), memTotal(), redisVersion(), runtime.Version(), load, len(encoded(0)))
	b.WriteString("Absolute rates vary 2-3x between machines and runs; the ratio to the ceiling, measured in the same run, is the figure to compare.\n\n")
	b.WriteString("| drain | records | workers | records/s | ratio to the ceiling | pump's CPU-s per million records | redis-server's CPU-s per million records | fdatasyncs per batch | its server's limit, records/s | ratio to that limit | pump's peak RSS | where the records went | checked at the end |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	anyInProc, anySlow := false, false
	var limits []string
	for _, r := range results {
		server := r.server
		if r.inProc {
			server += " †"
			anyInProc = true
		}
		records := thousands(r.records)
		if r.slow {
			records += " ‡"
			anySlow = true
		}
		limitRate := r.limitRate()
		switch {
		case r.limit != nil:
			l := fmt.Sprintf("%s: %s", r.name, r.limit.how)
			if b := r.cpuBudget(); b != "" {
				l += "; it took " + b
			}
			limits = append(limits, l)
		case r.limitErr != nil:
			limitRate = "not measured: " + mdEscape(r.limitErr.Error())
		}
		switch {
		case r.skipped != "":
			fmt.Fprintf(&b, "| %s | - | - | - | - | - | - | - | - | - | - | skipped: %s | |\n", r.name, mdEscape(r.skipped))
		case !r.measured() && r.took == 0:
			fmt.Fprintf(&b, "| %s | %s | %s | - | - | - | - | - | - | - | - | %s | **FAILED**: %s |\n", r.name, records, r.workersCol(), server, mdEscape(r.err.Error()))
		case r.err != nil:
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f | %s | %s | %s | - | - | %s | %s | **FAILED**: %s |\n", r.name, records, r.workersCol(), int(r.rate()),
				r.rate()/ceiling.rate(), r.cpuPerMillion(), r.redisCPUPerMillion(), r.syncsPerBatch(), rss(r.rssKB), server, mdEscape(r.err.Error()))
		default:
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, records, r.workersCol(), int(r.rate()),
				r.rate()/ceiling.rate(), r.cpuPerMillion(), r.redisCPUPerMillion(), r.syncsPerBatch(), limitRate, r.limitRatio(), rss(r.rssKB), server, r.check)
		}
	}
	b.WriteString("\n")
	if anyInProc {
		b.WriteString("† The server runs inside pumpbench: its CPU competes with the pump's on this machine's " +
			strconv.Itoa(runtime.NumCPU()) + " cores, so that line understates what the pump does against a server elsewhere. " +
			"(redis-server and the servers in their own processes share the same cores too.)\n\n")
	}
	if anySlow {
		fmt.Fprintf(&b, "‡ A slow sink: it drains %s records (-slow-records) instead of %s. Its ratio stays comparable: "+
			"it is records/s over the ceiling's records/s.\n\n", thousands(slowN), thousands(n))
	}
	b.WriteString("The pump's CPU is its process's user and system time (getrusage of the exited process: all its threads, " +
		"from start to the stop after the drain), over the records drained; redis-server's is its process's, read from /proc " +
		"before the pump's start and after its exit (the ceiling's: around its LPOP loop). fdatasyncs per batch counts the pump's fdatasync calls " +
		"(a kernel tracepoint counter, which does not slow the pump) over the batches it read (pump_batch_size_records_count); " +
		"a fan-out writes each batch to each of its files.\n\n")
	for _, r := range results {
		if r.syncsWhy != "" {
			fmt.Fprintf(&b, "fdatasyncs not counted on this machine: %s.\n\n", mdEscape(r.syncsWhy))
			break
		}
	}
	if len(limits) > 0 {
		b.WriteString("A database line's limit is its server loading the same records, in the same run, right after the line, " +
			"with its own bulk interface from one client in pumpbench:\n\n")
		for _, l := range limits {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	b.WriteString("records/s runs from the pump's start (start-up and the sink's connection included) until the list is empty, " +
		"that is until every batch was written and trimmed. Peak RSS is the pump process's own high-water mark (VmHWM), not the servers'.\n")
	if slices.ContainsFunc(results, func(r result) bool { return r.stream }) {
		b.WriteString("\nThe streams lines drain the same records XADDed to a stream (field data) through the consumer group, " +
			"timed from the first pump's start until the stream is empty and XPENDING is 0; seeding is not timed. " +
			"With several pump processes the records counted are their pump_records_written_total summed, " +
			"the CPU is the sum of the processes' and the peak RSS the largest process's.\n")
	}
	if len(unbenched) > 0 {
		fmt.Fprintf(&b, "\nRegistered sinks without a line: %s.\n", strings.Join(unbenched, ", "))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return fmt.Sprintf("%.0f GiB RAM", kb/1024/1024)
			}
		}
	}
	return "unknown RAM"
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "redis-server unknown"
	}
	f := strings.Fields(string(out))
	for _, w := range f {
		if strings.HasPrefix(w, "v=") {
			return "Redis " + strings.TrimPrefix(w, "v=")
		}
	}
	return strings.TrimSpace(string(out))
}

// loadAverage is the 1-minute load average: a busy machine explains odd
// figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
