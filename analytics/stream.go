package analytics

import (
	"io"
	"slices"
	"strconv"
)

// StreamJSON appends r to b as AppendJSON does, except that a record whose
// JSON is long does not sit whole in b: while a field longer than 64 KiB is
// escaped, b is written to w each time it passes 64 KiB and emptied (a
// carried r.JSON that long is written as it is). The caller writes what b
// holds on return. On ErrJSONTime nothing was written and b is returned
// unchanged; any other error is w's.
func StreamJSON(w io.Writer, b []byte, r *Record) ([]byte, error) {
	if r.JSON != nil {
		if len(r.JSON) <= jsonPiece {
			return append(b, r.JSON...), nil
		}
		if _, err := w.Write(b); err != nil {
			return b, err
		}
		_, err := w.Write(r.JSON)
		return b[:0], err
	}
	if y := r.ExpireAt.Year(); y < 0 || y > 9999 {
		return b, ErrJSONTime
	}
	s := jsonStream{w: w}
	b = append(b, `{"timestamp":`...)
	b = strconv.AppendInt(b, r.TimeStamp, 10)
	b = append(b, `,"username":`...)
	b = s.appendString(b, r.Username)
	b = append(b, `,"effect":`...)
	b = s.appendString(b, r.Effect)
	b = append(b, `,"conclusion":`...)
	b = s.appendString(b, r.Conclusion)
	b = append(b, `,"request":`...)
	b = s.appendString(b, r.Request)
	b = append(b, `,"policies":`...)
	b = s.appendString(b, r.Policies)
	b = append(b, `,"deciders":`...)
	b = s.appendString(b, r.Deciders)
	b = append(b, `,"expireAt":"`...)
	b = appendRFC3339Nano(b, r.ExpireAt)
	return append(b, `"}`...), s.err
}

// jsonStream writes long strings out a piece at a time, keeping the first
// error of w.
type jsonStream struct {
	w   io.Writer
	err error
}

func (s *jsonStream) appendString(b []byte, str string) []byte {
	if len(str) <= jsonPiece {
		return AppendJSONString(b, str)
	}
	b = append(b, '"')
	for len(str) > 0 {
		cut := pieceCut(str)
		n := len(b)
		room := maxEscapedLen*cut + wordSlack
		b = slices.Grow(b, room)
		b = b[:appendEscaped(b[:n+room], n, str[:cut])]
		str = str[cut:]
		if len(b) >= jsonPiece {
			if s.err == nil {
				_, s.err = s.w.Write(b)
			}
			b = b[:0]
		}
	}
	return append(b, '"')
}
