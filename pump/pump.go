package pump

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/filter"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

// Output is one configured pump: a sink and its pumps.<name> settings.
type Output struct {
	Name   string
	Sink   pumps.Sink
	Config config.Pump

	usernames, skip map[string]struct{}
	match           *filter.Matcher // filters.expr; nil keeps every record
	omit            bool
	// parking is set after this pump's share of a batch was parked: later
	// batches get one attempt instead of the whole retry budget, so an
	// outage does not slow the other pumps, until a write succeeds again.
	parking atomic.Bool
	// NeedsInit is set when the sink's Init failed at start (its server
	// was down): every write tries Init first, and until it succeeds the
	// pump's records are retried and parked like any failed write.
	NeedsInit atomic.Bool
	Stats     Stats

	// busy is held by the one write of this sink running at a time: the
	// drain's worker and the parked replay share the sink, and a write
	// abandoned at its timeout keeps holding it until the sink returns.
	busy     chan struct{}
	busyOnce sync.Once
	// reportedDown is set once "parked records not replayed yet" was
	// logged, so it is logged once per outage, not every tick.
	reportedDown atomic.Bool
	commit       commitState // see commit.go
}

// State says what the loop does with this pump now: "failing" while its
// sink never started (every write tries Init first), "parking" while its
// writes fail and its records are parked, else "writing".
func (out *Output) State() string {
	switch {
	case out.NeedsInit.Load():
		return "failing"
	case out.parking.Load():
		return "parking"
	}
	return "writing"
}

// Stats counts records per pump since start.
type Stats struct {
	Written, Filtered, Parked, Dead, Replayed atomic.Int64
}

// Settings are what the loop takes from the configuration.
type Settings struct {
	BatchSize        int           // records per read, at most
	BatchMaxBytes    int64         // bytes per read, about (a bigger record goes alone)
	ReadAhead        int           // batches in flight at once
	Interval         time.Duration // between drains (purge-delay); the poll of an empty parked list too
	Grace            time.Duration // for the batches in flight after the stop signal
	DeadLetterMaxLen int64         // cap of the dead and parked lists (0: none)
	OmitDetails      bool          // omit-detailed-recording for every pump
	ProgressInterval time.Duration // a "draining" line this often while a drain runs (0: none)
}

// SettingsOf takes the loop's settings from cfg; grace is its share of
// the shutdown timeout.
func SettingsOf(cfg config.Config, grace time.Duration) Settings {
	interval := time.Duration(cfg.PurgeDelay) * time.Second
	if interval <= 0 {
		interval = 100 * time.Millisecond // purge-delay 0: drain continuously
	}
	return Settings{
		BatchSize: cfg.BatchSize, BatchMaxBytes: int64(cfg.BatchMaxBytes), ReadAhead: cfg.ReadAhead,
		Interval: interval, Grace: grace, DeadLetterMaxLen: cfg.DeadLetterMaxLen, OmitDetails: cfg.OmitDetailedRecording,
		ProgressInterval: cfg.ProgressInterval.D(),
	}
}

// Options configure a Pump.
type Options struct {
	Settings Settings
	Queue    *storage.Queue
	Outputs  []*Output
	Logger   *zap.Logger
	Health   *Health
}

// Pump drains one analytics list into its outputs.
type Pump struct {
	cfg     Settings
	queue   *storage.Queue
	outputs []*Output
	log     *zap.Logger
	health  *Health
	// shareJSON is set when two or more pumps write the same JSON of a
	// record: the decoder then encodes each record once for all of them.
	shareJSON bool
	jsonBufs  chan []byte // spare buffers for the shared JSON, one per batch in flight

	// mu guards cfg and outputs against Update while a scrape reads them;
	// the loop itself never runs during an Update.
	mu                                      sync.RWMutex
	metrics                                 *metrics
	read, decodeFailed, untrimmed, inFlight atomic.Int64
	acquisitions, lastDrain, lastProgress   atomic.Int64
	standbyLogged                           bool
	// lease is kept between two Runs across a reload (see ErrReload).
	lease *leaseKeeper
	// causes are the kinds of cause already logged for the Redis condition
	// now in force.
	causesMu sync.Mutex
	causes   map[string]bool
}

// New prepares the loop; nothing is read before Run.
func New(o Options) *Pump {
	p := &Pump{queue: o.Queue, log: o.Logger, health: o.Health, metrics: newMetrics()}
	p.Update(o.Settings, o.Outputs)
	return p
}

// Update swaps the settings and outputs (a reload). Call it only while Run
// is not running.
func (p *Pump) Update(cfg Settings, outputs []*Output) {
	jsonWriters := 0
	for _, out := range outputs {
		out.usernames = set(out.Config.Filters.Usernames)
		out.skip = set(out.Config.Filters.SkipUsernames)
		if out.match.String() != out.Config.Filters.Expr { // a kept pump keeps its counts
			out.match = filter.MustCompile(out.Config.Filters.Expr) // config.Validate compiled it already
		}
		out.omit = cfg.OmitDetails || out.Config.OmitDetailedRecording
		// A pump that omits details writes other bytes and encodes its own.
		if _, ok := out.Sink.(pumps.JSONWriter); ok && !out.omit {
			jsonWriters++
		}
	}
	p.mu.Lock()
	p.cfg, p.outputs = cfg, outputs
	p.shareJSON = jsonWriters >= 2
	p.jsonBufs = make(chan []byte, cfg.ReadAhead+2)
	p.mu.Unlock()
}

func set(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[s] = struct{}{}
	}
	return m
}

// Records returns how many records were read from the list and how many of
// them could not be decoded, since start.
func (p *Pump) Records() (read, undecodable int64) { return p.read.Load(), p.decodeFailed.Load() }

// ErrStopDeadline is Run's answer when the shutdown timeout cut the stop
// short: writes still running were abandoned and their batches left at the
// head of the list for the next holder (delivered again, nothing lost).
var ErrStopDeadline = errors.New("stop cut short by the shutdown timeout; unfinished batches stay at the head")

// ErrReload is the cause to cancel Run's context with for a reload: Run
// then keeps the lease (its keeper goes on renewing it) for the next Run,
// so a standby cannot take over on "systemctl reload".
var ErrReload = errors.New("stopped for a reload")

// Run drains the list until ctx is cancelled (the stop signal), then lets
// the batches in flight finish and be trimmed within the shutdown timeout,
// and releases the lease, unless ctx was cancelled with ErrReload. What
// cannot finish in time stays at the head of the list for the next holder.
// It returns nil after a clean stop and ErrStopDeadline when the timeout
// cut it short, whatever the sinks do.
func (p *Pump) Run(ctx context.Context) (err error) {
	// hard bounds the writes and trims still in flight after the stop.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	var cut atomic.Bool
	grace := p.cfg.Grace // read now: a reload may Update cfg once Run returned
	go func() {
		select {
		case <-ctx.Done():
			t := time.AfterFunc(grace, func() { cut.Store(true); cancelHard() })
			<-hard.Done()
			t.Stop()
		case <-hard.Done():
		}
	}()
	go p.watchRedis(ctx)

	beat := time.NewTicker(time.Second)
	defer beat.Stop()
	lease := p.lease
	p.lease = nil
	var replay *replayers
	defer func() {
		if replay != nil {
			replay.stop()
		}
		if lease != nil && !lease.isLost() && errors.Is(context.Cause(ctx), ErrReload) {
			p.lease = lease // the next Run goes on with it
		} else {
			if lease != nil {
				lease.stop()
			}
			p.releaseLease()
		}
		if cut.Load() {
			err = ErrStopDeadline
		}
		cancelHard()
	}()
	for {
		p.health.Beat()
		if ctx.Err() != nil {
			return nil
		}
		if lease != nil && lease.isLost() {
			if replay != nil {
				replay.stop()
				replay = nil
			}
			lease.stop()
			lease = nil
			p.health.SetHolder(false)
			p.log.Warn("lost the drain lease; standing by", zap.String("key", p.queue.Key()))
		}
		if lease == nil {
			lease = p.tryLease(ctx)
		}
		next := p.queue.TTL() / 4 // standby: poll for the lease
		if lease != nil {
			if replay == nil {
				replay = p.startReplay(ctx, hard, lease)
			}
			err := p.drain(ctx, hard, lease)
			switch {
			case errors.Is(err, storage.ErrLeaseLost) || errors.Is(err, storage.ErrHeadChanged):
				p.log.Warn("drain interrupted; the un-trimmed window stays at the head", zap.Error(err))
				if errors.Is(err, storage.ErrLeaseLost) {
					lease.markLost()
				}
				// Someone else removing from the head would spin us: pause.
				sleep(ctx, backoff(0))
				continue
			case err != nil && ctx.Err() == nil:
				p.log.Error("drain failed", zap.Error(err))
			}
			next = p.cfg.Interval
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := time.NewTimer(next)
	idle:
		for {
			select {
			case <-ctx.Done():
				wait.Stop()
				return nil
			case <-beat.C:
				p.health.Beat()
			case <-wait.C:
				break idle
			}
		}
	}
}

func (p *Pump) tryLease(ctx context.Context) *leaseKeeper {
	ok, err := p.queue.Acquire(ctx)
	if err != nil {
		p.redisError(err)
		return nil
	}
	p.redisOK()
	if !ok {
		if p.health.Holder() || !p.standbyLogged {
			holder, _ := p.queue.Holder(ctx)
			p.log.Info("another instance drains the list; standing by",
				zap.String("key", p.queue.Key()), zap.String("holder", holder))
			p.standbyLogged = true
		}
		return nil
	}
	p.standbyLogged = false
	p.acquisitions.Add(1)
	p.health.SetHolder(true)
	p.log.Info("holding the drain lease", zap.String("key", p.queue.Key()), zap.String("token", p.queue.Token()))
	return startLeaseKeeper(p.queue, p.log, p.redisError)
}

func (p *Pump) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.queue.Release(ctx); err != nil {
		p.log.Warn("could not release the drain lease; it lapses by itself", zap.Error(err))
	}
	p.health.SetHolder(false)
}

// watchRedis keeps readiness truthful while the loop is idle.
func (p *Pump) watchRedis(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.queue.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.redisError(err)
		} else {
			p.redisReadOK()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// redisError records what a failed command says about Redis, logging it
// once when it begins (and again only when it turns into another one).
func (p *Pump) redisError(err error) {
	c := storage.Classify(err)
	kind := causeKind(err)
	p.causesMu.Lock()
	defer p.causesMu.Unlock()
	if p.health.SetRedisCondition(c) != c {
		p.causes = map[string]bool{kind: true}
		p.log.Error(redisConditions[c].begins, zap.String("redis_state", c.String()), zap.Error(err))
		return
	}
	// The same outage with another kind of cause (a timeout first, then
	// the certificate the server showed) is said once more, so the line
	// that names the real cause is never hidden behind the first one.
	if !p.causes[kind] {
		if p.causes == nil {
			p.causes = map[string]bool{}
		}
		p.causes[kind] = true
		p.log.Error(redisConditions[c].begins, zap.String("redis_state", c.String()), zap.Error(err))
	}
}

// causeKind groups errors of one Redis condition by what an operator would
// do about them.
func causeKind(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return "tls"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "i/o timeout"):
		return "timeout"
	case strings.Contains(msg, "refused"):
		return "refused"
	}
	return "other"
}

// redisOK records a write (or any command) that succeeded: whatever Redis
// failed with has ended.
func (p *Pump) redisOK() { p.redisEnded(false) }

// redisReadOK records a read that succeeded: it ends every condition but
// those that refuse only writes (out of memory, read-only), which a read
// cannot tell gone; else the ping would end them every second.
func (p *Pump) redisReadOK() { p.redisEnded(true) }

func (p *Pump) redisEnded(read bool) {
	cur := p.health.RedisCondition()
	if cur == storage.OK || read && redisConditions[cur].needsWrite {
		return
	}
	if p.health.SetRedisCondition(storage.OK) == cur {
		p.log.Info(redisConditions[cur].ends, zap.String("redis_state", cur.String()))
	}
}

// backoff returns the wait before attempt n (from 0): exponential from
// 100ms up to 5s, with full jitter so instances do not retry in step.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n, 6)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// leaseKeeper renews the lease every TTL/4 while this instance holds it.
type leaseKeeper struct {
	lost     chan struct{}
	lostOnce sync.Once
	done     chan struct{}
	stopped  chan struct{}
}

func startLeaseKeeper(q *storage.Queue, log *zap.Logger, onErr func(error)) *leaseKeeper {
	k := &leaseKeeper{lost: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(k.stopped)
		t := time.NewTicker(q.TTL() / 4)
		defer t.Stop()
		lastRenewed := time.Now()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), q.TTL()/4)
			err := q.Renew(ctx)
			cancel()
			switch {
			case err == nil:
				lastRenewed = time.Now()
			case errors.Is(err, storage.ErrLeaseLost):
				k.markLost()
				return
			default:
				onErr(err)
				// Unrenewed past the TTL the lease may be another's: stop
				// trusting it (the trim script would refuse anyway).
				if time.Since(lastRenewed) > q.TTL() {
					log.Warn("lease not renewed within its TTL", zap.Error(err))
					k.markLost()
					return
				}
			}
		}
	}()
	return k
}

func (k *leaseKeeper) markLost() { k.lostOnce.Do(func() { close(k.lost) }) }

func (k *leaseKeeper) isLost() bool {
	select {
	case <-k.lost:
		return true
	default:
		return false
	}
}

func (k *leaseKeeper) stop() {
	select {
	case <-k.done:
	default:
		close(k.done)
	}
	<-k.stopped
}

var errIncomplete = errors.New("batch not finished before the shutdown deadline")

// view is one pump's own copy of a batch: filtered, with details omitted
// where configured, and where each record came from in the batch.
func (out *Output) view(b *batch) ([]analytics.Record, []int) {
	recs := make([]analytics.Record, 0, len(b.records))
	idx := make([]int, 0, len(b.records))
	for i := range b.records {
		r := b.records[i]
		if out.usernames != nil {
			if _, keep := out.usernames[r.Username]; !keep {
				continue
			}
		}
		if _, drop := out.skip[r.Username]; drop {
			continue
		}
		if !out.match.Keep(b.records, i, &b.requests) {
			continue
		}
		if out.omit {
			r.OmitDetails()
		}
		recs = append(recs, r)
		idx = append(idx, i)
	}
	return recs, idx
}
