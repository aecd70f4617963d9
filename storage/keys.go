package storage

import (
	"maps"
	"slices"
)

// Keys names the keys of ours that belong to one source key (a list or a
// stream): its dead-letter list and its parked lists. The {key} hash tag
// keeps them all in the source's Redis Cluster slot, so one script may
// touch the source and every one of them.
type Keys struct {
	key string
}

// KeysOf returns the key names that belong to source key.
func KeysOf(key string) Keys { return Keys{key: key} }

func (k Keys) tagged(suffix string) string { return "{" + k.key + "}." + suffix }

// Key is the source itself: the analytics list or stream.
func (k Keys) Key() string { return k.key }

// DeadKey is the dead-letter list.
func (k Keys) DeadKey() string { return k.tagged("dead") }

// ParkedKey is the list of records parked for pump.
func (k Keys) ParkedKey(pump string) string { return k.tagged("parked." + pump) }

// pushLua is the scripts' half of pushArgs: push appends counts[k]
// elements of ARGV, from arg on, to KEYS[first+k-1], and caps each list at
// maxlen (0: no cap), dropping the oldest.
const pushLua = `
local function push(first, counts, arg, maxlen)
  for k = 1, #counts do
    local dest = KEYS[first + k - 1]
    for _ = 1, counts[k] do
      redis.call('RPUSH', dest, ARGV[arg])
      arg = arg + 1
    end
    if maxlen > 0 and counts[k] > 0 then redis.call('LTRIM', dest, -maxlen, -1) end
  end
end
`

// pushArgs adds what the trim and ack scripts need to push dead letters and
// parked records: each parked list's key and count (pumps sorted by name),
// then between, then the dead letters and the parked records in that order.
func (k Keys) pushArgs(keys []string, args []any, dead [][]byte, parked map[string][][]byte, between ...any) ([]string, []any) {
	pumps := slices.Sorted(maps.Keys(parked))
	for _, p := range pumps {
		keys = append(keys, k.ParkedKey(p))
		args = append(args, len(parked[p]))
	}
	args = append(args, between...)
	for _, d := range dead {
		args = append(args, d)
	}
	for _, p := range pumps {
		for _, r := range parked[p] {
			args = append(args, r)
		}
	}
	return keys, args
}
