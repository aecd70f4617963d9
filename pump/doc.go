// Package pump is the drain loop (Loop): it holds the lease on the
// analytics list, reads the head in bounded batches several at a time,
// decodes them, fans each batch out to every Output (one configured sink,
// a pumps.Sink, with its pumps.<name> settings) and trims it from Redis
// only when all of them have it (or it was parked or dead-lettered with
// the reason).
//
// The path of one batch (pipeline.go):
//
//	reader ──▶ decoder ──▶ one worker per pump ──▶ trimmer
//	LRANGE at  decode,     deliver (deliver.go):    in read order, once every
//	the window shared      written / refused (dead) pump is done: one script
//	(window.go) JSON       / transient (retry, park) trims, dead-letters, parks
//
// The window is what the drain has read and not trimmed; it owns the read
// offset, which counts from the moving head. Read-ahead bounds the batches
// not yet written by every pump, which hold records; a written batch drops
// them and waits for its sync and trim in the trimmer's queue alone
// (UntrimmedBatches), so one fdatasync covers many. Run (loop.go) drains on a
// ticker while this instance holds the lease (lease.go); batch.go decodes,
// output.go is one pump's view of a batch, commit.go the group commit of
// the file sinks, redis.go what Redis errors say about its health.
//
// Beside the drain, one replayer per pump (replay.go) feeds its parked list
// back to it through the same delivery path; for a pump that is down it is
// the probe, one write at a time, while the drain parks that pump's share at
// once. pump dlq replay --pump uses the same path too (deadreplay.go).
//
// Three signals stop the work, from the gentlest:
//   - ctx (the stop signal, or a reload): stop reading; what is in flight
//     is written and trimmed;
//   - hard (the shutdown deadline): writes still running are abandoned and
//     their batches stay at the head of the list; Run says ErrStopDeadline;
//   - abort (a lost lease or a refused trim): stop everything now, trim
//     nothing more, stand by.
//
// The health state the HTTP probes report lives here too (health.go); the
// process concerns (signals, the shutdown manager) are cmd/pump's.
package pump
