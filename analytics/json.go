package analytics

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// ErrJSONTime is returned for an ExpireAt that JSON's RFC 3339 form cannot
// hold (a year outside 0-9999), as encoding/json refuses it too.
var ErrJSONTime = errors.New("expireAt: year outside of range [0,9999]")

// AppendJSON appends r as one JSON object with iam's json field names, the
// same document encoding/json would produce (without its HTML escaping),
// without reflection or allocations: the JSON sinks encode every record.
// It appends r.JSON when that is set. On error b is returned unchanged.
func AppendJSON(b []byte, r *Record) ([]byte, error) {
	if r.JSON != nil {
		return append(b, r.JSON...), nil
	}
	if y := r.ExpireAt.Year(); y < 0 || y > 9999 {
		return b, ErrJSONTime
	}
	b = append(b, `{"timestamp":`...)
	b = strconv.AppendInt(b, r.TimeStamp, 10)
	b = append(b, `,"username":`...)
	b = AppendJSONString(b, r.Username)
	b = append(b, `,"effect":`...)
	b = AppendJSONString(b, r.Effect)
	b = append(b, `,"conclusion":`...)
	b = AppendJSONString(b, r.Conclusion)
	b = append(b, `,"request":`...)
	b = AppendJSONString(b, r.Request)
	b = append(b, `,"policies":`...)
	b = AppendJSONString(b, r.Policies)
	b = append(b, `,"deciders":`...)
	b = AppendJSONString(b, r.Deciders)
	b = append(b, `,"expireAt":"`...)
	b = r.ExpireAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}

const hexDigits = "0123456789abcdef"

// plainByte marks the bytes a JSON string holds as they are: one table
// load per byte instead of three comparisons, in the JSON sinks' hot loop.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
