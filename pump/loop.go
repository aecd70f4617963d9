package pump

import (
	"context"
	"errors"
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

// Settings are what the loop takes from the configuration.
type Settings struct {
	BatchSize        int           // records per read, at most
	BatchMaxBytes    int64         // bytes per read, about (a bigger record goes alone)
	ReadAhead        int           // batches in flight at once (read, not yet written by every pump)
	ReadAheadBytes   int64         // their bytes together, at most, and at least BatchMaxBytes (0: ReadAhead × BatchMaxBytes)
	Interval         time.Duration // between drains (purge-delay); the poll of an empty parked list too
	Grace            time.Duration // for the batches in flight after the stop signal
	DeadLetterMaxLen int64         // cap of the dead and parked lists (0: none)
	OmitDetails      bool          // omit-detailed-recording for every pump
	ProgressInterval time.Duration // a "draining" line this often while a drain runs (0: none)
	// A stream source's: how long an entry stays pending at a consumer
	// before another takes it over, and how often it may be delivered
	// before it is dead-lettered (0: no limit).
	ClaimIdle     time.Duration
	MaxDeliveries int64
}

// Stream sources' defaults: claim-idle well above a write's timeout and
// retry budget, so a slow write is not taken over from a live consumer.
const (
	DefaultClaimIdle     = time.Minute
	DefaultMaxDeliveries = 5
)

// SettingsOf takes the loop's settings from cfg; grace is its share of
// the shutdown timeout.
func SettingsOf(cfg config.Config, grace time.Duration) Settings {
	interval := time.Duration(cfg.PurgeDelay) * time.Second
	if interval <= 0 {
		interval = 100 * time.Millisecond // purge-delay 0: drain continuously
	}
	return Settings{
		BatchSize: cfg.BatchSize, BatchMaxBytes: int64(cfg.BatchMaxBytes), ReadAhead: cfg.ReadAhead,
		ReadAheadBytes: max(int64(cfg.ReadAheadBytes), int64(cfg.BatchMaxBytes)), // room for one full batch
		Interval:       interval, Grace: grace, DeadLetterMaxLen: cfg.DeadLetterMaxLen, OmitDetails: cfg.OmitDetailedRecording,
		ProgressInterval: cfg.ProgressInterval.D(),
		ClaimIdle:        DefaultClaimIdle, MaxDeliveries: DefaultMaxDeliveries,
	}
}

// Options configure a Loop.
type Options struct {
	Settings Settings
	// Queue is the source's lease and lists: a list source's own, a stream
	// source's dead-letter and parked lists and the lease that picks the
	// one instance that replays the parked lists.
	Queue *storage.Queue
	// Stream, when set, makes the source a stream read through its
	// consumer group (Queue then names the same key).
	Stream  *storage.Stream
	Outputs []*Output
	Logger  *zap.Logger
	Health  *Health
	// Share, for a daemon that drains several sources, is what their loops
	// know of each other's leases; nil for one source.
	Share *LeaseShare
}

// Loop is the drain loop of one analytics list: it drains the list into
// its outputs while it holds the list's lease, and stands by while another
// instance does.
type Loop struct {
	cfg     Settings
	queue   *storage.Queue
	stream  *storage.Stream // nil for a list
	outputs []*Output
	log     *zap.Logger
	health  *Health
	// shareJSON is set when two or more pumps write the same JSON of a
	// record: the decoder then encodes each record once for all of them.
	shareJSON bool
	jsonBufs  chan []byte // spare buffers for the shared JSON, one per batch in flight
	// spareRecs and spareInts are the slices of trimmed batches, for the
	// next ones (see spares).
	spareRecs spares[analytics.Record]
	spareInts spares[int]

	// mu guards cfg and outputs against Update while a scrape reads them;
	// the loop itself never runs during an Update.
	mu                                      sync.RWMutex
	metrics                                 *metrics
	read, decodeFailed, untrimmed, inFlight atomic.Int64
	acquisitions, lastDrain, lastProgress   atomic.Int64
	standbyLogged                           bool
	groupReady                              bool // the stream's consumer group exists
	// lease is kept between two Runs across a reload (see ErrReload).
	lease *leaseKeeper
	// share, freeSince and leftUntil spread the leases between instances
	// (see LeaseShare): since when this loop has seen its lease free, and
	// until when it leaves a lease it gave back to the others.
	share     *LeaseShare
	freeSince time.Time
	leftUntil time.Time
	// causes are the kinds of cause already logged for the Redis condition
	// now in force.
	causesMu sync.Mutex
	causes   map[string]bool
}

// New prepares the loop; nothing is read before Run.
func New(o Options) *Loop {
	p := &Loop{queue: o.Queue, stream: o.Stream, log: o.Logger, health: o.Health, metrics: newMetrics(), share: o.Share}
	if p.share == nil {
		p.share = NewLeaseShare(1)
	}
	p.Update(o.Settings, o.Outputs)
	return p
}

// Update swaps the settings and outputs (a reload). Call it only while Run
// is not running.
func (p *Loop) Update(cfg Settings, outputs []*Output) {
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
	p.spareRecs, p.spareInts = newSpares[analytics.Record](cfg.ReadAhead+2), newSpares[int](cfg.ReadAhead+2)
	for _, out := range outputs {
		out.spareRecs, out.spareInts = newSpares[analytics.Record](out.Config.Writers()+2), newSpares[int](2*out.Config.Writers()+2)
	}
	p.mu.Unlock()
}

// Records returns how many records were read from the list and how many of
// them could not be decoded, since start.
func (p *Loop) Records() (read, undecodable int64) { return p.read.Load(), p.decodeFailed.Load() }

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
func (p *Loop) Run(ctx context.Context) (err error) {
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
			p.leave()
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
			p.notHolding()
			p.log.Warn("lost the drain lease; standing by", zap.String("key", p.queue.Key()))
		}
		if p.present(ctx, lease != nil) {
			if replay != nil {
				replay.stop()
				replay = nil
			}
			lease.stop()
			lease = nil
			p.releaseLease()
		}
		if lease == nil {
			lease = p.tryLease(ctx)
		}
		next := p.queue.TTL() / 4 // standby: poll for the lease
		if p.stream != nil {
			// Every instance of the group drains the stream; the lease
			// only picks the one that replays the parked lists.
			if lease != nil && replay == nil {
				replay = p.startReplay(ctx, hard, lease)
			}
			if err := p.drainStream(ctx, hard); err != nil && ctx.Err() == nil {
				p.log.Error("drain failed", zap.Error(err))
			}
			next = min(next, p.cfg.Interval)
		} else if lease != nil {
			if replay == nil {
				replay = p.startReplay(ctx, hard, lease)
			}
			err := p.drainList(ctx, hard, lease)
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
