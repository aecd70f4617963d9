package pump

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pumpd/pump/storage"
)

// metrics are the loop's self-metrics; counters that the loop already keeps
// as atomics are read at scrape time rather than kept twice.
type metrics struct {
	writeDuration *prometheus.HistogramVec
	batchSize     prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		writeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pump_write_duration_seconds",
			Help:    "Time one write of a batch to a pump took, failed attempts included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
		}, []string{"pump"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pump_batch_size_records",
			Help:    "Records per batch read from the analytics list.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		}),
	}
}

var (
	descRead = prometheus.NewDesc("pump_records_read_total",
		"Records read from the analytics list.", nil, nil)
	descUndecodable = prometheus.NewDesc("pump_records_undecodable_total",
		"Elements that did not decode as an iam record; each went to the dead-letter list.", nil, nil)
	descUntrimmed = prometheus.NewDesc("pump_records_redelivered_total",
		"Records read but left at the head (lost lease, changed head, shutdown deadline): they are delivered again.", nil, nil)
	descWritten = prometheus.NewDesc("pump_records_written_total",
		"Records a pump accepted.", []string{"pump"}, nil)
	descFiltered = prometheus.NewDesc("pump_records_filtered_total",
		"Records a pump's filters left out.", []string{"pump"}, nil)
	descFilterProblems = prometheus.NewDesc("pump_filter_problems_total",
		"Records on which a pump's filters.expr failed (the record is left out) or whose request was not a JSON object (the expression saw an empty request).", []string{"pump"}, nil)
	descParked = prometheus.NewDesc("pump_records_parked_total",
		"Records parked for a pump that kept failing.", []string{"pump"}, nil)
	descDead = prometheus.NewDesc("pump_records_dead_lettered_total",
		"Records a pump refused for good; they went to the dead-letter list.", []string{"pump"}, nil)
	descReplayed = prometheus.NewDesc("pump_records_replayed_total",
		"Parked records replayed to their pump.", []string{"pump"}, nil)
	descDown = prometheus.NewDesc("pump_pump_down",
		"1 while a pump is down: its records are parked at once and the parked replay probes it with one write at a time.", []string{"pump"}, nil)
	descBacklog = prometheus.NewDesc("pump_backlog_records",
		"Length of the pump's Redis lists at scrape time: the main list, the dead-letter list and each parked list.", []string{"list", "pump"}, nil)
	descInFlight = prometheus.NewDesc("pump_batches_in_flight",
		"Batches read and not yet trimmed.", nil, nil)
	descHolder = prometheus.NewDesc("pump_lease_holder",
		"1 while this instance holds the drain lease, else 0.", nil, nil)
	descAcquired = prometheus.NewDesc("pump_lease_acquisitions_total",
		"Times this instance took the drain lease (at start, or taking over from another).", nil, nil)
	descLastDrain = prometheus.NewDesc("pump_last_drain_timestamp_seconds",
		"When the last drain that emptied the list finished (Unix time).", nil, nil)
	descLastProgress = prometheus.NewDesc("pump_last_progress_timestamp_seconds",
		"When the drain last moved (Unix time): a batch trimmed from the analytics list, or the list found empty. Stale means stuck, not busy.", nil, nil)
	descRedisUp = prometheus.NewDesc("pump_redis_up",
		"1 when the last Redis round trip succeeded, else 0.", nil, nil)
	descUnreplicated = prometheus.NewDesc("pump_trims_unreplicated_total",
		"Trims fewer replicas acknowledged than redis.wait-replicas within redis.wait-timeout: a failover may deliver them again.", nil, nil)
	descRedisState = prometheus.NewDesc("pump_redis_state",
		"1 for what the last Redis round trip said (ok, oom, readonly, loading, auth, redirect, unreachable, error), 0 for the others.", []string{"state"}, nil)
)

// Describe implements prometheus.Collector. A daemon that drains several
// sources registers each loop with a source label; the pumps' own counts,
// which the loops share, are OutputMetrics'.
func (p *Loop) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRead, descUndecodable, descUntrimmed, descBacklog, descInFlight,
		descHolder, descAcquired, descLastDrain, descLastProgress, descRedisUp, descRedisState, descUnreplicated} {
		ch <- d
	}
	p.metrics.writeDuration.Describe(ch)
	p.metrics.batchSize.Describe(ch)
}

// Collect implements prometheus.Collector.
func (p *Loop) Collect(ch chan<- prometheus.Metric) {
	p.mu.RLock()
	outputs := p.outputs
	p.mu.RUnlock()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descRead, p.read.Load())
	counter(descUndecodable, p.decodeFailed.Load())
	counter(descUntrimmed, p.untrimmed.Load())
	gauge(descInFlight, float64(p.inFlight.Load()))
	gauge(descHolder, boolFloat(p.health.Holder()))
	counter(descAcquired, p.acquisitions.Load())
	if t := p.lastDrain.Load(); t > 0 {
		gauge(descLastDrain, float64(t)/1e9)
	}
	if t := p.lastProgress.Load(); t > 0 {
		gauge(descLastProgress, float64(t)/1e9)
	}
	counter(descUnreplicated, int64(p.queue.UnreplicatedTrims()))
	cond := p.health.RedisCondition()
	gauge(descRedisUp, boolFloat(cond == storage.OK))
	for _, c := range storage.Conditions {
		gauge(descRedisState, boolFloat(c == cond), c.String())
	}

	// Lengths are read live, briefly: a scrape must not hang on Redis.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := p.Backlog(ctx); err == nil {
		gauge(descBacklog, float64(n), "main", "")
	}
	if n, err := p.queue.Len(ctx, p.queue.DeadKey()); err == nil {
		gauge(descBacklog, float64(n), "dead", "")
	}
	for _, out := range outputs {
		if n, err := p.queue.Len(ctx, p.queue.ParkedKey(out.Name)); err == nil {
			gauge(descBacklog, float64(n), "parked", out.Name)
		}
	}
	p.metrics.writeDuration.Collect(ch)
	p.metrics.batchSize.Collect(ch)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// OutputMetrics serves the pumps' counts once, however many loops feed
// them: the function returns the pumps that run now, so a reload can swap
// them.
type OutputMetrics func() []*Output

var outputDescs = []*prometheus.Desc{descWritten, descFiltered, descFilterProblems, descParked, descDead, descReplayed, descDown}

// Describe implements prometheus.Collector.
func (OutputMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range outputDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m OutputMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, out := range m() {
		for _, c := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{descWritten, float64(out.Stats.Written.Load())},
			{descFiltered, float64(out.Stats.Filtered.Load())},
			{descFilterProblems, float64(out.match.Problems())},
			{descParked, float64(out.Stats.Parked.Load())},
			{descDead, float64(out.Stats.Dead.Load())},
			{descReplayed, float64(out.Stats.Replayed.Load())},
		} {
			ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, c.v, out.Name)
		}
		ch <- prometheus.MustNewConstMetric(descDown, prometheus.GaugeValue, boolFloat(out.parking.Load()), out.Name)
	}
}

var (
	_ prometheus.Collector = (*Loop)(nil)
	_ prometheus.Collector = OutputMetrics(nil)
)
