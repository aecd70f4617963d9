package pump

import (
	"encoding/json"
	"time"
)

// DeadLetter is one entry of the dead-letter list: the record's original
// bytes and why it could not be delivered. It is JSON so an operator can
// read it with redis-cli; Raw is base64 there and byte-exact.
type DeadLetter struct {
	Reason string    `json:"reason"`
	Pump   string    `json:"pump,omitempty"` // "" when no pump could take it (undecodable)
	Time   time.Time `json:"time"`
	Key    string    `json:"key"` // the list or stream it was read from
	Raw    []byte    `json:"raw"`
	// ID is the stream entry's id (a list's elements have none);
	// Deliveries how often the group delivered it, for an entry
	// dead-lettered after max-deliveries.
	ID         string `json:"id,omitempty"`
	Deliveries int64  `json:"deliveries,omitempty"`
}

// Encode returns the envelope as stored in Redis.
func (d DeadLetter) Encode() []byte {
	b, err := json.Marshal(d)
	if err != nil { // cannot happen: every field marshals
		panic(err)
	}
	return b
}

// DecodeDeadLetter parses an entry of the dead-letter list.
func DecodeDeadLetter(b []byte) (DeadLetter, error) {
	var d DeadLetter
	err := json.Unmarshal(b, &d)
	return d, err
}
