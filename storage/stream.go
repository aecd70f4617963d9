package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// StreamOptions say which consumer group reads a stream, as whom, and
// where an entry keeps its record.
type StreamOptions struct {
	// Group is the consumer group (default "pump"). Instances in one group
	// share the stream's entries; each group sees every entry.
	Group string
	// Consumer names this instance in the group (its instance id). It must
	// be stable across restarts of one instance and distinct between
	// instances: a restarted consumer gets its own pending entries again.
	Consumer string
	// Field is the entry field that holds the record's bytes (default
	// "data").
	Field string
}

// Stream is one Redis stream read through one consumer group. Its Keys name
// the stream (Key) and, as for a Queue, its dead-letter and parked lists.
type Stream struct {
	Keys
	client redis.UniversalClient
	group  string
	name   string
	field  string

	mu     sync.Mutex
	cursor string // where the next Claim scans the pending entries from
}

// NewStream returns the stream key read by the group o names.
func NewStream(client redis.UniversalClient, key string, o StreamOptions) *Stream {
	if o.Group == "" {
		o.Group = "pump"
	}
	if o.Field == "" {
		o.Field = "data"
	}
	return &Stream{Keys: KeysOf(key), client: client, group: o.Group, name: o.Consumer, field: o.Field, cursor: "0-0"}
}

// Group is the consumer group.
func (s *Stream) Group() string { return s.group }

// Consumer is this instance's name in the group.
func (s *Stream) Consumer() string { return s.name }

// Field is the entry field that holds the record.
func (s *Stream) Field() string { return s.field }

// Entry is one stream entry as delivered to this consumer.
type Entry struct {
	ID string
	// Data is the record: the value of the stream's Field, a read-only view
	// of the reply's bytes. It is nil exactly when the entry has no such
	// field (an empty value is a non-nil empty slice).
	Data []byte
	// Deliveries counts the times the group delivered the entry, this
	// delivery included: 1 for a first read, more for an entry claimed from
	// a consumer that did not acknowledge it.
	Deliveries int64
	// Fields, only for an entry without the data field (Data nil), are all
	// its fields and values in the stream's order: field, value, field,
	// value... Nothing of such an entry is lost: dead-letter
	// EncodeFields(Fields), which DecodeFields turns back into the exact
	// fields (an XADD of them restores the entry but for its id).
	Fields [][]byte
}

// Ensure creates the consumer group, and the stream if there is none yet.
// A group that exists already is left as it is.
func (s *Stream) Ensure(ctx context.Context) error {
	// From 0, not $: a group created after a producer started must not
	// skip what the producer wrote before.
	err := s.client.XGroupCreateMkStream(ctx, s.key, s.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redis: create group %s of stream %s: %w", s.group, s.key, err)
	}
	return nil
}

// Read delivers up to count entries that no consumer of the group has been
// given yet, waiting up to block for the first (block <= 0: no wait). It
// returns no entries and no error when there were none.
func (s *Stream) Read(ctx context.Context, count int64, block time.Duration) ([]Entry, error) {
	if s.name == "" {
		return nil, fmt.Errorf("redis: read stream %s: no consumer name", s.key)
	}
	a := &redis.XReadGroupArgs{Group: s.group, Consumer: s.name, Streams: []string{s.key, ">"}, Count: count, Block: -1}
	if block > 0 {
		a.Block = block
	}
	res, err := s.client.XReadGroup(ctx, a).Result()
	if isNoGroup(err) {
		// The stream was deleted (DEL, FLUSHDB) and its group with it: what
		// is written next must still be read.
		if err = s.Ensure(ctx); err == nil {
			res, err = s.client.XReadGroup(ctx, a).Result()
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis: read group %s of stream %s: %w", s.group, s.key, err)
	}
	var msgs []redis.XMessage
	for _, st := range res {
		msgs = append(msgs, st.Messages...)
	}
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		// A first delivery: ">" hands out only entries never delivered.
		out[i] = Entry{ID: m.ID, Deliveries: 1}
	}
	if err := s.fill(ctx, out, msgs); err != nil {
		return nil, err
	}
	return out, nil
}

// fill sets each entry's Data from its message, and the Fields of those
// without the data field.
func (s *Stream) fill(ctx context.Context, out []Entry, msgs []redis.XMessage) error {
	for i, m := range msgs {
		v, ok := m.Values[s.field].(string)
		if !ok {
			fields, err := s.fields(ctx, m)
			if err != nil {
				return err
			}
			out[i].Fields = fields
			continue
		}
		out[i].Data = view(v)
	}
	return nil
}

// isNoGroup tells the error of a command on a group (or stream) that does
// not exist.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// view returns b's bytes without a copy. go-redis reads each bulk string
// into a fresh allocation of its own (proto.Reader.readStringReply, v9),
// which nothing else refers to once the reply is parsed; the view is
// read-only (Go strings never change), as Record.Raw promises its readers.
func view(v string) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(v), len(v))
}

// fields reads entry m again with XRANGE to get its fields in order: the
// parsed reply is a map, which lost the order and any repeated field. When
// the entry is gone meanwhile (deleted by someone else), the map's fields
// are all there is, sorted by name.
func (s *Stream) fields(ctx context.Context, m redis.XMessage) ([][]byte, error) {
	res, err := s.client.Do(ctx, "xrange", s.key, m.ID, m.ID).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: read entry %s of stream %s: %w", m.ID, s.key, err)
	}
	if len(res) == 1 {
		if e, ok := res[0].([]any); ok && len(e) == 2 {
			if pairs, ok := e[1].([]any); ok {
				out := make([][]byte, 0, len(pairs))
				for _, p := range pairs {
					str, ok := p.(string)
					if !ok {
						return nil, fmt.Errorf("redis: entry %s of stream %s: field of type %T", m.ID, s.key, p)
					}
					out = append(out, view(str))
				}
				return out, nil
			}
		}
	}
	out := make([][]byte, 0, 2*len(m.Values))
	for _, k := range slices.Sorted(maps.Keys(m.Values)) {
		v, _ := m.Values[k].(string)
		out = append(out, view(k), view(v))
	}
	return out, nil
}

// Claim takes over up to count entries that have been pending longer than
// minIdle at any consumer of the group (one that crashed, or hangs), and
// delivers them to this one. Successive calls walk the group's pending
// entries from where the last stopped, and start over when Redis says the
// walk went round. Entries deleted from the stream while pending are
// acknowledged away (nothing is left of them to deliver).
func (s *Stream) Claim(ctx context.Context, minIdle time.Duration, count int64) ([]Entry, error) {
	if s.name == "" {
		return nil, fmt.Errorf("redis: claim from stream %s: no consumer name", s.key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs, next, deleted, err := s.client.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
		Stream: s.key, Group: s.group, Consumer: s.name, MinIdle: minIdle, Start: s.cursor, Count: count,
	}).Result()
	if isNoGroup(err) {
		// Nothing can be pending in a group that is gone; Read makes it
		// again.
		s.cursor = "0-0"
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis: claim from group %s of stream %s: %w", s.group, s.key, err)
	}
	// "0-0" once the walk reached the end: the next call starts over.
	s.cursor = next
	// Redis 7 names the deleted entries (and drops them from the pending
	// list itself); Redis 6.2 returns them as entries without fields.
	live := msgs[:0]
	for _, m := range msgs {
		if m.Values == nil {
			deleted = append(deleted, m.ID)
			continue
		}
		live = append(live, m)
	}
	if len(deleted) > 0 {
		if err := s.client.XAck(ctx, s.key, s.group, deleted...).Err(); err != nil {
			return nil, fmt.Errorf("redis: acknowledge %d deleted entries of stream %s: %w", len(deleted), s.key, err)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	// XAUTOCLAIM does not say how often each entry was delivered. One
	// XPENDING per entry, its id as both ends of the range, in one
	// pipeline: one round trip and O(log n) each. A single XPENDING over
	// the claimed range would also list this consumer's own entries in
	// flight between them, so it could not be bounded by count.
	pipe := s.client.Pipeline()
	cmds := make([]*redis.XPendingExtCmd, len(live))
	for i, m := range live {
		cmds[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.key, Group: s.group, Start: m.ID, End: m.ID, Count: 1})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: delivery counts of %d claimed entries of stream %s: %w", len(live), s.key, err)
	}
	out := make([]Entry, 0, len(live))
	kept := make([]redis.XMessage, 0, len(live))
	for i, m := range live {
		p := cmds[i].Val()
		if len(p) != 1 {
			// Acknowledged since the claim, by a consumer that had it.
			continue
		}
		out = append(out, Entry{ID: m.ID, Deliveries: p[0].RetryCount})
		kept = append(kept, m)
	}
	if err := s.fill(ctx, out, kept); err != nil {
		return nil, err
	}
	return out, nil
}

// StreamAck is one step of the group's progress: entries every pump has,
// with the dead letters and parked records that came from them.
type StreamAck struct {
	// IDs are the entries to acknowledge. Give every Ack the ids of the
	// entries its dead letters and parked records come from.
	IDs         []string
	DeadLetters [][]byte            // envelopes for DeadKey
	Parked      map[string][][]byte // pump name → raw records for ParkedKey(pump)
	// MaxLen caps the dead and parked lists (0: no cap); the oldest entries
	// go first.
	MaxLen int64
}

// KEYS: stream, dead, parked... ARGV: group, max len, id count, dead count,
// then per parked key its count, then the ids, then all elements in order.
// It returns {entries acknowledged, entries trimmed}.
var ackScript = newScript(pushLua + `
local maxlen = tonumber(ARGV[2])
local nids = tonumber(ARGV[3])
local counts = {}
for k = 1, #KEYS - 1 do counts[k] = tonumber(ARGV[3 + k]) end
local arg = 3 + #KEYS
local acked = 0
local i = 0
while i < nids do
  local j = math.min(i + 1000, nids)
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, arg + i, arg + j - 1))
  i = j
end
arg = arg + nids
if nids == 0 or acked > 0 then push(2, counts, arg, maxlen) end

local function less(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am < #bm end
  if am ~= bm then return am < bm end
  if #as ~= #bs then return #as < #bs end
  return as < bs
end
-- inc adds one to a decimal string, nil past 2^64-1.
local function inc(s)
  if s == '18446744073709551615' then return nil end
  local d = {string.byte(s, 1, -1)}
  local k = #d
  while k > 0 and d[k] == 57 do d[k] = 48; k = k - 1 end
  if k == 0 then return '1' .. string.char(unpack(d)) end
  d[k] = d[k] + 1
  return string.char(unpack(d))
end
local function after(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  local s = inc(seq)
  if s then return ms .. '-' .. s end
  local m = inc(ms)
  if m then return m .. '-0' end
  return id
end
-- Below floor, every group has acknowledged everything: for each group
-- its oldest pending entry, or with none pending the entry after the last
-- it was given.
if redis.call('EXISTS', KEYS[1]) == 0 then return {acked, 0} end
local floor = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for k = 1, #g, 2 do f[g[k]] = g[k + 1] end
  local low
  if tonumber(f['pending']) > 0 then
    low = redis.call('XPENDING', KEYS[1], f['name'], '-', '+', 1)[1][1]
  else
    low = after(f['last-delivered-id'])
  end
  if floor == nil or less(low, floor) then floor = low end
end
local trimmed = 0
if floor then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', floor) end
return {acked, trimmed}
`)

// Ack acknowledges a.IDs, pushes a's dead letters and parked records, and
// removes from the stream what every group of it has acknowledged, in one
// script. The script pushes only when at least one of the ids was still
// pending, so a retry after a lost reply (its ids acknowledged already)
// pushes nothing twice. It pushes nothing either when another consumer
// claimed all of them and acknowledged them first (it pushed its own), or
// when the stream was deleted under the group (by whoever deleted it).
//
// Removal is XTRIM MINID below the smallest, over every group on the stream,
// of its oldest pending entry or (none pending) the entry after the last
// delivered to it. Not XDEL of the acknowledged ids: that would take
// entries from another group (a second deployment, a tap) that has not read
// them, and XDEL only marks entries deleted inside the stream's nodes,
// which free their memory when all of a node's entries are gone, while a
// trim drops whole nodes from the head. The cost: one group that keeps an
// entry pending (a hung consumer, until it is claimed) holds back the trim
// of everything after it, as a list's head holds back its trim.
func (s *Stream) Ack(ctx context.Context, a StreamAck) error {
	keys := []string{s.key, s.DeadKey()}
	args := []any{s.group, a.MaxLen, len(a.IDs), len(a.DeadLetters)}
	ids := make([]any, len(a.IDs))
	for i, id := range a.IDs {
		ids[i] = id
	}
	keys, args = s.pushArgs(keys, args, a.DeadLetters, a.Parked, ids...)
	var err error
	for attempt := 0; ; attempt++ {
		err = ackScript.Run(ctx, s.client, keys, args...).Err()
		if err == nil {
			return nil
		}
		// A retry is safe even when the first try ran and only its reply
		// was lost: see above.
		if ctx.Err() != nil || attempt >= 2 {
			break
		}
	}
	return fmt.Errorf("redis: acknowledge %d entries of stream %s: %w", len(a.IDs), s.key, err)
}

// Pending is how many entries the group has delivered and not had
// acknowledged, at all its consumers.
func (s *Stream) Pending(ctx context.Context) (int64, error) {
	p, err := s.client.XPending(ctx, s.key, s.group).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: pending entries of group %s of stream %s: %w", s.group, s.key, err)
	}
	return p.Count, nil
}

// Len is the number of entries in the stream, read or not.
func (s *Stream) Len(ctx context.Context) (int64, error) {
	n, err := s.client.XLen(ctx, s.key).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: length of stream %s: %w", s.key, err)
	}
	return n, nil
}

// EncodeFields encodes an entry's fields (Entry.Fields) as a RESP array of
// bulk strings, byte for byte, for a dead letter's raw bytes.
func EncodeFields(fields [][]byte) []byte {
	n := 16
	for _, f := range fields {
		n += len(f) + 16
	}
	b := make([]byte, 0, n)
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(fields)), 10)
	b = append(b, '\r', '\n')
	for _, f := range fields {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, '\r', '\n')
		b = append(b, f...)
		b = append(b, '\r', '\n')
	}
	return b
}

// DecodeFields parses what EncodeFields wrote.
func DecodeFields(b []byte) ([][]byte, error) {
	line := func() (int, error) {
		end := bytes.Index(b, []byte("\r\n"))
		if end < 1 {
			return 0, errors.New("stream fields: no line")
		}
		n, err := strconv.Atoi(string(b[1:end]))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("stream fields: bad length %q", b[1:end])
		}
		b = b[end+2:]
		return n, nil
	}
	if len(b) == 0 || b[0] != '*' {
		return nil, errors.New("stream fields: not an array")
	}
	n, err := line()
	if err != nil {
		return nil, err
	}
	if n > len(b) {
		return nil, fmt.Errorf("stream fields: %d fields in %d bytes", n, len(b))
	}
	out := make([][]byte, 0, n)
	for range n {
		if len(b) == 0 || b[0] != '$' {
			return nil, errors.New("stream fields: not a bulk string")
		}
		l, err := line()
		if err != nil {
			return nil, err
		}
		if len(b) < l+2 || b[l] != '\r' || b[l+1] != '\n' {
			return nil, errors.New("stream fields: truncated")
		}
		out = append(out, b[:l:l])
		b = b[l+2:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("stream fields: %d bytes after the array", len(b))
	}
	return out, nil
}
