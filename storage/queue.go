package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// ErrLeaseLost means another instance holds the lease now (or it lapsed):
// this instance must stop trimming and stand by.
var ErrLeaseLost = errors.New("drain lease lost to another instance or expired")

// ErrHeadChanged means the head of the list is not what this instance read,
// so it must not trim; it re-reads from the head instead.
var ErrHeadChanged = errors.New("head of the list changed since it was read")

// Queue is the fenced view of one analytics list. Its Keys name the list
// (Key), its dead-letter list and its parked lists.
type Queue struct {
	Keys
	client redis.UniversalClient
	token  string
	ttl    time.Duration
	trims  atomic.Uint64
	// identity is this process's hostIdentity ("" off Linux), also in token.
	identity   string
	onTakeover func(dead string)
	replication
}

// NewQueue returns the queue for list key. owner names this instance in
// the lease value, for operators reading it with redis-cli.
func NewQueue(client redis.UniversalClient, key, owner string, ttl time.Duration) *Queue {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	q := &Queue{Keys: KeysOf(key), client: client, token: owner + "/" + hex.EncodeToString(nonce[:]), ttl: ttl, identity: hostIdentity()}
	if q.identity != "" {
		q.token += "@" + q.identity
	}
	return q
}

// OnTakeover sets what is called (with the dead holder's token) when
// Acquire takes the lease over from a dead process of this host.
func (q *Queue) OnTakeover(fn func(dead string)) { q.onTakeover = fn }

// LeaseKey holds the token of the instance that drains the list.
func (q *Queue) LeaseKey() string { return q.tagged("lease") }

// trimMarksKey is a hash: holder token and list → the sequence number of
// the last trim applied to that list (each list's trims run in order, from
// one goroutine), so a retried trim whose reply was lost is never applied
// twice. It has no TTL (a retry may come after a long partition); a new
// holder clears it when it takes the lease, since no trim of an earlier
// holder can apply after that.
func (q *Queue) trimMarksKey() string { return q.tagged("trims") }

// NextSeq numbers a new trim: one per batch, kept for all its retries.
func (q *Queue) NextSeq() uint64 { return q.trims.Add(1) }

// Token identifies this run in the lease.
func (q *Queue) Token() string { return q.token }

// TTL is the lease's time to live.
func (q *Queue) TTL() time.Duration { return q.ttl }

// KEYS: lease, trim marks. ARGV: token, ttl ms.
var acquireScript = newScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`)

// KEYS: lease, presence. ARGV: the dead holder's token, ours, ttl ms. The
// dead run leaves the count of instances too, or the others would make
// room for it.
var takeoverScript = newScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// Acquire takes the lease when it is free, or renews it when this instance
// holds it. It reports whether this instance holds it now. A lease held by
// a process of this host (same boot, same pid namespace) that no longer
// runs, a restart's own predecessor after a kill -9, is taken over at once
// instead of waited out; holders elsewhere keep their TTL.
func (q *Queue) Acquire(ctx context.Context) (bool, error) {
	n, err := acquireScript.Run(ctx, q.client, []string{q.LeaseKey(), q.trimMarksKey()}, q.token, q.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: acquire lease %s: %w", q.LeaseKey(), err)
	}
	if n == 1 || q.identity == "" {
		return n == 1, nil
	}
	cur, err := q.Holder(ctx)
	if err != nil {
		return false, fmt.Errorf("redis: read lease %s: %w", q.LeaseKey(), err)
	}
	at := strings.LastIndexByte(cur, '@')
	if at < 0 || !holderDead(cur[at+1:], q.identity) {
		return false, nil
	}
	// Only if the value is still the dead holder's: another standby may
	// have taken it over meanwhile.
	n, err = takeoverScript.Run(ctx, q.client, []string{q.LeaseKey(), q.presenceKey()}, cur, q.token, q.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: take lease %s over from %s: %w", q.LeaseKey(), cur, err)
	}
	if n == 1 && q.onTakeover != nil {
		q.onTakeover(cur)
	}
	return n == 1, nil
}

var renewScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// Renew extends the lease; ErrLeaseLost when this instance no longer
// holds it.
func (q *Queue) Renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, q.client, []string{q.LeaseKey()}, q.token, q.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redis: renew lease: %w", err)
	}
	if n != 1 {
		return ErrLeaseLost
	}
	return nil
}

// KEYS: lease. ARGV: token.
var releaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Release gives the lease up so a standby takes over at once.
func (q *Queue) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, q.client, []string{q.LeaseKey()}, q.token).Err(); err != nil {
		return fmt.Errorf("redis: release lease: %w", err)
	}
	return nil
}

// Holder returns the token of the current lease holder ("" when free).
func (q *Queue) Holder(ctx context.Context) (string, error) {
	v, err := q.client.Get(ctx, q.LeaseKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// Peek reads up to n elements starting offset elements after the head of
// list. It removes nothing.
func (q *Queue) Peek(ctx context.Context, list string, offset, n int64) ([][]byte, error) {
	vals, err := q.client.LRange(ctx, list, offset, offset+n-1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: read %s[%d:%d]: %w", list, offset, offset+n, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		// go-redis reads each element into a fresh allocation of its own
		// (proto.Reader.readStringReply, v9); viewing its bytes in place
		// saves a copy of every record. The views are read-only (Go strings
		// never change), which is what Record.Raw promises its readers.
		out[i] = unsafe.Slice(unsafe.StringData(v), len(v))
	}
	return out, nil
}

// Len returns the length of list.
func (q *Queue) Len(ctx context.Context, list string) (int64, error) {
	n, err := q.client.LLen(ctx, list).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: length of %s: %w", list, err)
	}
	return n, nil
}

// Fingerprint identifies a read batch: its length and the hashes of its
// first and last element, which the trim script checks against the list.
type Fingerprint struct {
	N     int64
	First string
	Last  string
}

// FingerprintOf describes batch.
func FingerprintOf(batch [][]byte) Fingerprint {
	if len(batch) == 0 {
		return Fingerprint{}
	}
	return Fingerprint{N: int64(len(batch)), First: sha1hex(batch[0]), Last: sha1hex(batch[len(batch)-1])}
}

func sha1hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Trim is one batch's removal from the head of a list, with what goes to
// the dead-letter and parked lists in the same step.
type Trim struct {
	// Seq identifies this trim among the holder's, from NextSeq: give a
	// batch one Seq and keep it for every retry of its trim.
	Seq         uint64
	List        string
	Batch       Fingerprint
	DeadLetters [][]byte            // envelopes for DeadKey
	Parked      map[string][][]byte // pump name → raw records for ParkedKey(pump)
	// MaxLen caps the dead and parked lists (0: no cap); the oldest entries
	// go first.
	MaxLen int64
}

// KEYS: list, lease, trim marks, dead, parked...
// ARGV: token, ttl ms, trim seq, n, first sha1, last sha1, max len, dead count,
// then per parked key its count, then all elements in order.
var trimScript = newScript(pushLua + `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local mark = ARGV[1] .. '|' .. KEYS[1]
local last = tonumber(redis.call('HGET', KEYS[3], mark) or '0')
if last >= tonumber(ARGV[3]) then return 2 end
local n = tonumber(ARGV[4])
if n > 0 then
  local first = redis.call('LINDEX', KEYS[1], 0)
  local last = redis.call('LINDEX', KEYS[1], n - 1)
  if not first or not last or redis.sha1hex(first) ~= ARGV[5] or redis.sha1hex(last) ~= ARGV[6] then
    return -2
  end
end
local maxlen = tonumber(ARGV[7])
local counts = {tonumber(ARGV[8])}
for i = 5, #KEYS do counts[#counts + 1] = tonumber(ARGV[9 + i - 5]) end
push(4, counts, 9 + #KEYS - 4, maxlen)
if n > 0 then redis.call('LTRIM', KEYS[1], n, -1) end
redis.call('HSET', KEYS[3], mark, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`)

// Apply runs t atomically: it checks the lease is this instance's and the
// head is the batch that was read, pushes the dead letters and parked
// records, removes the batch and renews the lease. It returns ErrLeaseLost
// or ErrHeadChanged when it must not, and removes nothing then. Trims of
// one holder to one list apply in Seq order, and one whose Seq was applied already (a
// retry after a lost reply, however late) is recognised and does nothing.
func (q *Queue) Apply(ctx context.Context, t Trim) error {
	if t.Seq == 0 {
		return fmt.Errorf("redis: trim of %s without a sequence number (NextSeq)", t.List)
	}
	keys := []string{t.List, q.LeaseKey(), q.trimMarksKey(), q.DeadKey()}
	args := []any{q.token, q.ttl.Milliseconds(), t.Seq, t.Batch.N, t.Batch.First, t.Batch.Last, t.MaxLen, len(t.DeadLetters)}
	keys, args = q.pushArgs(keys, args, t.DeadLetters, t.Parked)
	var err error
	for attempt := 0; ; attempt++ {
		var n int
		n, err = q.runTrim(ctx, keys, args...)
		if err == nil {
			switch n {
			case -1:
				return ErrLeaseLost
			case -2:
				return ErrHeadChanged
			}
			return nil
		}
		// The same Seq makes a retry safe even when the first try was
		// applied and only its reply was lost.
		if ctx.Err() != nil || attempt >= 2 {
			break
		}
	}
	return fmt.Errorf("redis: trim %d from %s: %w", t.Batch.N, t.List, err)
}

// Push appends raw elements to the tail of list (dead-letter replay).
func (q *Queue) Push(ctx context.Context, list string, elems [][]byte) error {
	if len(elems) == 0 {
		return nil
	}
	args := make([]any, len(elems))
	for i, e := range elems {
		args[i] = e
	}
	if err := q.client.RPush(ctx, list, args...).Err(); err != nil {
		return fmt.Errorf("redis: push %d to %s: %w", len(elems), list, err)
	}
	return nil
}

// Ping checks the connection.
func (q *Queue) Ping(ctx context.Context) error {
	return q.client.Ping(ctx).Err()
}
