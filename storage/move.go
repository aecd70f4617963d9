package storage

import (
	"context"
	"fmt"
)

// KEYS: src, dst. ARGV: n, first sha1, last sha1, count to dst, then the
// elements for dst, then those that go back to the tail of src.
var moveHeadScript = newScript(`
local n = tonumber(ARGV[1])
local first = redis.call('LINDEX', KEYS[1], 0)
local last = redis.call('LINDEX', KEYS[1], n - 1)
if not first or not last or redis.sha1hex(first) ~= ARGV[2] or redis.sha1hex(last) ~= ARGV[3] then
  return -2
end
local todst = tonumber(ARGV[4])
for i = 5, 4 + todst do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('LTRIM', KEYS[1], n, -1)
for i = 5 + todst, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return 1
`)

// MoveHead removes the batch fp read from the head of src, in one atomic
// step appending toDst to the tail of dst and keep back to the tail of src.
// It is how dead letters are replayed: nothing is lost or doubled even if
// the operator's command dies half-way. ErrHeadChanged when the head is not
// what was read.
func (q *Queue) MoveHead(ctx context.Context, src string, fp Fingerprint, dst string, toDst, keep [][]byte) error {
	if fp.N == 0 {
		return nil
	}
	args := []any{fp.N, fp.First, fp.Last, len(toDst)}
	for _, e := range toDst {
		args = append(args, e)
	}
	for _, e := range keep {
		args = append(args, e)
	}
	n, err := moveHeadScript.Run(ctx, q.client, []string{src, dst}, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: move %d from %s to %s: %w", fp.N, src, dst, err)
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
