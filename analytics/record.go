package analytics

import (
	"crypto/sha1"
	"encoding/hex"
	"time"
)

// DefaultKey is the Redis list iam's authorization server appends to.
const DefaultKey = "analytics-iam-system-analytics"

// Record is one authorization decision, with iam's json and bson names.
type Record struct {
	TimeStamp  int64     `json:"timestamp" bson:"timestamp"`
	Username   string    `json:"username" bson:"username"`
	Effect     string    `json:"effect" bson:"effect"`
	Conclusion string    `json:"conclusion" bson:"conclusion"`
	Request    string    `json:"request" bson:"request"`
	Policies   string    `json:"policies" bson:"policies"`
	Deciders   string    `json:"deciders" bson:"deciders"`
	ExpireAt   time.Time `json:"expireAt" bson:"expireAt"`

	// Raw is the element exactly as it was read from Redis. Sinks use it
	// for stable ids and dead letters; it must not be modified.
	Raw []byte `json:"-" bson:"-" msgpack:"-"`

	// JSON, when not nil, is the record as AppendJSON encodes it, and
	// AppendJSON appends it instead of encoding again: the loop encodes a
	// record once for all the pumps that write JSON. Whoever changes a
	// field of a record must set JSON to nil (OmitDetails does).
	JSON []byte `json:"-" bson:"-" msgpack:"-"`
}

// OmitDetails blanks the fields that omit-detailed-recording leaves out.
func (r *Record) OmitDetails() {
	r.Policies = ""
	r.Deciders = ""
	r.JSON = nil
}

// ID is a stable identifier derived from the record's original bytes, so a
// record delivered twice (at-least-once) can be recognised by sinks that
// deduplicate. It is the hex SHA-1 of Raw.
func (r *Record) ID() string {
	sum := sha1.Sum(r.Raw)
	return hex.EncodeToString(sum[:])
}
