package pumps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/strict"
)

// Sink is the interface a sink type implements: the code that writes
// records to one kind of destination (a CSV directory, a Kafka topic, ...).
// It is the third of the three ideas, next to the loop that drains Redis
// (pump.Loop) and one configured pumps.<name> section, a Sink with its
// filters, timeout and retry settings (pump.Output). Its life cycle is
// Configure, Init, Write (any number of times, never concurrently for one
// sink unless it is Concurrent), Close. A sink that fails Configure or Init
// is never written to.
type Sink interface {
	// Configure decodes and checks the pump's meta. It does no I/O, so
	// `pump validate` can call it on a machine that cannot reach the sink.
	Configure(meta Meta) error
	// Init connects, opens files and creates what is missing.
	Init(ctx context.Context) error
	// Write delivers a batch. It returns nil only when every record is
	// durably with the sink (or, for RejectedError, every record but the
	// rejected ones); a Syncer's records are durable once a Sync that
	// started after Write returned has returned nil. The slice and its records belong to the sink until
	// Write returns and must not be kept after that. ctx carries the pump's
	// timeout.
	Write(ctx context.Context, batch []analytics.Record) error
	// Close flushes what is buffered and releases connections and files.
	Close(ctx context.Context) error
}

// JSONWriter is a sink that writes every record as analytics.AppendJSON
// encodes it. When two or more pumps do, the loop encodes each record once
// into Record.JSON and they share those bytes instead of each encoding the
// same record again.
type JSONWriter interface {
	Sink
	// WritesRecordJSON marks the sink; it does nothing.
	WritesRecordJSON()
}

// Reopener is a sink that writes to files by path. The daemon calls Reopen
// on SIGHUP (logrotate's postrotate signal), so the sink lets go of a file
// that was renamed away and opens the path again for its next batch. It may
// be called while a Write runs, and must not wait for it.
type Reopener interface {
	Sink
	Reopen() error
}

// MaxKeptBuffer is the largest encoding buffer a sink keeps from one batch
// for the next: a bigger one, grown by a huge record, is dropped, so that
// record's memory is not held for as long as the sink runs.
const MaxKeptBuffer = 1 << 20

// Syncer is a sink whose Write only writes (into the page cache, say) and
// whose Sync makes everything written so far durable (fdatasync): the loop
// trims a batch only after a Sync that started after its Write returned
// succeeded, so one Sync covers every batch written while the last one ran
// (group commit) and a power cut still loses nothing trimmed. Sync may run
// while a Write runs (the sink makes that safe); the loop never runs two
// Syncs of one sink at a time. Its error is transient: the loop retries.
type Syncer interface {
	Sink
	Sync(ctx context.Context) error
}

// Concurrent is a sink whose batches may land in any order and whose
// writes running at once make no copy that a retry with one worker would
// not (the databases store a batch written twice once, keyed by the
// record's id; Kafka produces it again, with its record-id header), so the
// loop may run up to pumps.<name>.workers Writes of it at once, each with
// its own batch; config validation refuses workers > 1 for a sink that is
// not. Its Write must be safe for concurrent calls.
type Concurrent interface {
	Sink
	// WritesConcurrently marks the sink; it does nothing.
	WritesConcurrently()
}

// Meta is a pump's meta section as it appears in the YAML file.
type Meta map[string]any

// DecodeMeta copies meta into the struct dst points to. Unknown keys and
// wrong types are errors naming the key, as in "meta.csv_dir: want a string".
func DecodeMeta(meta Meta, dst any) error {
	return strict.Decode("meta", meta, dst)
}

// Info describes a registered sink type.
type Info struct {
	Type        string      // the name used in pumps.<name>.type
	Description string      // one line for `pump plugins`
	Sample      string      // an example pumps.<name> section, YAML
	New         func() Sink // a fresh, unconfigured sink
	// Config returns the sink's meta struct (its Config) as it stands in
	// s, a sink of this type: for one fresh from New, the defaults. The
	// struct is the one declaration of the sink's settings: its yaml, help
	// and required tags and those defaults give `pump plugins TYPE`, the
	// README tables and `pump schema` (package internal/spec).
	Config func(s Sink) any
}

var (
	mu       sync.RWMutex
	registry = map[string]Info{}
)

// Register makes a sink type available by name. It panics when the name is
// empty or taken, as database/sql.Register does: both are programming errors
// caught the moment the binary starts.
func Register(info Info) {
	mu.Lock()
	defer mu.Unlock()
	if info.Type == "" || info.New == nil || info.Config == nil {
		panic("pumps: Register needs a type name, a constructor and its Config")
	}
	if _, dup := registry[info.Type]; dup {
		panic("pumps: Register called twice for type " + info.Type)
	}
	registry[info.Type] = info
}

// Lookup returns the registered sink type called name.
func Lookup(name string) (Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	info, ok := registry[name]
	return info, ok
}

// Registered lists every sink type, sorted by name.
func Registered() []Info {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, info := range registry {
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Types lists the registered type names, sorted.
func Types() []string {
	infos := Registered()
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = info.Type
	}
	return names
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the batch (or record) will never be
// accepted, so the loop dead-letters it instead of retrying. Errors that are
// not marked are treated as transient and retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Rejection is one record a sink refused for good.
type Rejection struct {
	Index int   // position in the batch passed to Write
	Err   error // why; becomes the dead letter's reason
}

// RejectedError is returned by Write when every record was delivered except
// the listed ones, which can never be accepted (an oversize document, a
// mapping conflict). The loop dead-letters those and counts the rest done.
type RejectedError struct {
	Rejections []Rejection
}

func (e *RejectedError) Error() string {
	if len(e.Rejections) == 0 {
		return "no records rejected"
	}
	return fmt.Sprintf("%d records rejected, first: %v", len(e.Rejections), e.Rejections[0].Err)
}
