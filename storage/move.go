package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Edit is what becomes of one element of a window of a list.
type Edit struct {
	Op    EditOp
	To    string // the list an OpMove appends Value to
	Value []byte // the new value of an OpSet, what an OpMove appends
}

// EditOp is the kind of an Edit.
type EditOp byte

const (
	OpKeep   EditOp = 'k' // left where it is, as it is
	OpRemove EditOp = 'r' // removed
	OpSet    EditOp = 's' // replaced in place by Value
	OpMove   EditOp = 'm' // removed, and Value appended to To
)

// KEYS: list, then the move destinations. ARGV: offset, n, first sha1,
// last sha1, tombstone, one op letter per element, then per element its
// destination index and value (moves) or its value (sets), in order.
var editScript = newScript(`
local off = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local first = redis.call('LINDEX', KEYS[1], off)
local last = redis.call('LINDEX', KEYS[1], off + n - 1)
if not first or not last or redis.sha1hex(first) ~= ARGV[3] or redis.sha1hex(last) ~= ARGV[4] then
  return -2
end
local ops = ARGV[6]
local arg = 7
local removed = 0
for i = 1, n do
  local op = string.sub(ops, i, i)
  local at = off + i - 1
  if op == 's' then
    redis.call('LSET', KEYS[1], at, ARGV[arg])
    arg = arg + 1
  elseif op == 'm' then
    redis.call('RPUSH', KEYS[1 + tonumber(ARGV[arg])], ARGV[arg + 1])
    arg = arg + 2
    redis.call('LSET', KEYS[1], at, ARGV[5])
    removed = removed + 1
  elseif op == 'r' then
    redis.call('LSET', KEYS[1], at, ARGV[5])
    removed = removed + 1
  end
end
if removed > 0 then redis.call('LREM', KEYS[1], removed, ARGV[5]) end
return removed
`)

// EditWindow applies edits, one per element, to the window fp of list that
// starts offset elements after the head, atomically: the other elements
// stay exactly where they are, and a command that dies half-way changes
// nothing. It is how dead letters are replayed. ErrHeadChanged when the
// window is not what was read (another command, or the dead-letter cap,
// removed from the head).
func (q *Queue) EditWindow(ctx context.Context, list string, offset int64, fp Fingerprint, edits []Edit) error {
	if fp.N == 0 {
		return nil
	}
	if int64(len(edits)) != fp.N {
		return fmt.Errorf("redis: edit of %s: %d edits for a window of %d", list, len(edits), fp.N)
	}
	// Removed elements are first marked with a value no record has, then
	// removed by LREM in one pass.
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	tomb := "pump-removed-" + hex.EncodeToString(nonce[:])
	keys := []string{list}
	dest := map[string]int{}
	ops := make([]byte, len(edits))
	var vals []any
	for i, e := range edits {
		ops[i] = byte(e.Op)
		switch e.Op {
		case OpSet:
			vals = append(vals, e.Value)
		case OpMove:
			d, ok := dest[e.To]
			if !ok {
				keys = append(keys, e.To)
				d = len(keys) - 1
				dest[e.To] = d
			}
			vals = append(vals, d, e.Value)
		}
	}
	args := append([]any{offset, fp.N, fp.First, fp.Last, tomb, string(ops)}, vals...)
	n, err := editScript.Run(ctx, q.client, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: edit %d of %s: %w", fp.N, list, err)
	}
	if n == -2 {
		return ErrHeadChanged
	}
	return nil
}

// Delete removes list and returns how many elements it held.
func (q *Queue) Delete(ctx context.Context, list string) (int64, error) {
	pipe := q.client.TxPipeline()
	n := pipe.LLen(ctx, list)
	pipe.Del(ctx, list)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redis: delete %s: %w", list, err)
	}
	return n.Val(), nil
}
