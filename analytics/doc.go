// Package analytics defines the analytics record that iam's authorization
// server pushes onto Redis, and its msgpack wire format.
//
// The encoding must stay byte-compatible with iam, which encodes the struct
// with github.com/vmihailenco/msgpack/v5 and no msgpack tags, so the map keys
// on the wire are the Go field names.
package analytics
