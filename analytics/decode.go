package analytics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// ErrMalformed is wrapped by every decoding error, so callers can tell bad
// data (dead-letter it) from everything else.
var ErrMalformed = errors.New("malformed analytics record")

// Encode returns the msgpack bytes iam would push for r.
func Encode(r *Record) ([]byte, error) {
	return msgpack.Marshal(r)
}

// Decode parses one list element. It is a hand-written decoder for the one
// shape iam writes (a map keyed by field name), because the drain is
// decode-bound; it is fuzzed against the msgpack library. Unknown keys are
// skipped so a newer iam that adds fields still decodes. raw is kept in
// Record.Raw, not copied.
func Decode(raw []byte) (Record, error) {
	return decode(raw, false)
}

// DecodeShared is Decode for bytes that never change afterwards, such as
// the views of Redis replies the drain holds: the record's strings point
// into raw instead of being copied, so decoding allocates nothing. Writing
// to raw later would change the record.
func DecodeShared(raw []byte) (Record, error) {
	return decode(raw, true)
}

func decode(raw []byte, shared bool) (Record, error) {
	var r Record
	d := decoder{buf: raw, shared: shared}
	n, err := d.mapLen()
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var seen fieldSet
	for i := 0; i < n; i++ {
		key, err := d.strBytes()
		if err != nil {
			return Record{}, fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
		}
		f, err := d.field(&r, key)
		if err != nil {
			return Record{}, fmt.Errorf("%w: field %q: %v", ErrMalformed, key, err)
		}
		seen |= f
	}
	// iam always writes all eight fields; a map missing some is another
	// producer's data (a Tyk record, say) and must not pass as a blank record.
	if seen != allFields {
		return Record{}, fmt.Errorf("%w: missing fields %s", ErrMalformed, missingFields(seen))
	}
	if d.off != len(d.buf) {
		return Record{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.buf)-d.off)
	}
	r.Raw = raw
	return r, nil
}

type decoder struct {
	buf    []byte
	off    int
	shared bool // strings may point into buf
}

var errShort = errors.New("unexpected end of data")

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.buf)-d.off < n {
		return nil, errShort
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) byte1() (byte, error) {
	if d.off >= len(d.buf) {
		return 0, errShort
	}
	c := d.buf[d.off]
	d.off++
	return c, nil
}

func (d *decoder) uintN(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	default:
		return binary.BigEndian.Uint64(b), nil
	}
}

func (d *decoder) mapLen() (int, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, errors.New("empty element")
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case c == 0xde:
		n, err := d.uintN(2)
		return int(n), err
	case c == 0xdf:
		n, err := d.uintN(4)
		if err == nil && n > uint64(len(d.buf)) {
			return 0, fmt.Errorf("map of %d entries in %d bytes", n, len(d.buf))
		}
		return int(n), err
	}
	return 0, fmt.Errorf("want a map, found type byte 0x%02x", c)
}

// strBytes reads a str or bin value and returns a view of its bytes.
func (d *decoder) strBytes() ([]byte, error) {
	c, err := d.byte1()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.uintN(1)
	case c == 0xda || c == 0xc5:
		n, err = d.uintN(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.uintN(4)
	default:
		return nil, fmt.Errorf("want a string, found type byte 0x%02x", c)
	}
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)) {
		return nil, errShort
	}
	return d.take(int(n))
}

// str reads a string; nil decodes to "" as the msgpack library does.
func (d *decoder) str() (string, error) {
	if d.off < len(d.buf) && d.buf[d.off] == 0xc0 {
		d.off++
		return "", nil
	}
	b, err := d.strBytes()
	if err != nil || len(b) == 0 {
		return "", err
	}
	if d.shared {
		return unsafe.String(&b[0], len(b)), nil
	}
	return string(b), nil
}

func (d *decoder) int64() (int64, error) {
	c, err := d.byte1()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c == 0xc0:
		return 0, nil
	}
	switch c {
	case 0xcc, 0xcd, 0xce, 0xcf: // uint8..uint64
		v, err := d.uintN(1 << (c - 0xcc))
		if err == nil && v > math.MaxInt64 {
			return 0, fmt.Errorf("integer %d overflows int64", v)
		}
		return int64(v), err
	case 0xd0:
		v, err := d.uintN(1)
		return int64(int8(v)), err
	case 0xd1:
		v, err := d.uintN(2)
		return int64(int16(v)), err
	case 0xd2:
		v, err := d.uintN(4)
		return int64(int32(v)), err
	case 0xd3:
		v, err := d.uintN(8)
		return int64(v), err
	}
	return 0, fmt.Errorf("want an integer, found type byte 0x%02x", c)
}

// time reads msgpack's timestamp extension (type -1) in its three sizes.
func (d *decoder) time() (time.Time, error) {
	c, err := d.byte1()
	if err != nil {
		return time.Time{}, err
	}
	var n uint64
	switch c {
	case 0xc0:
		return time.Time{}, nil
	case 0xd6:
		n = 4
	case 0xd7:
		n = 8
	case 0xc7:
		if n, err = d.uintN(1); err != nil {
			return time.Time{}, err
		}
	default:
		return time.Time{}, fmt.Errorf("want a timestamp, found type byte 0x%02x", c)
	}
	typ, err := d.byte1()
	if err != nil {
		return time.Time{}, err
	}
	if int8(typ) != -1 {
		return time.Time{}, fmt.Errorf("want extension type -1, found %d", int8(typ))
	}
	b, err := d.take(int(n))
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	switch n {
	case 4:
		t = time.Unix(int64(binary.BigEndian.Uint32(b)), 0)
	case 8:
		v := binary.BigEndian.Uint64(b)
		t = time.Unix(int64(v&0x3ffffffff), int64(v>>34))
	case 12:
		nsec := binary.BigEndian.Uint32(b)
		sec := int64(binary.BigEndian.Uint64(b[4:]))
		t = time.Unix(sec, int64(nsec))
	default:
		return time.Time{}, fmt.Errorf("timestamp of %d bytes", n)
	}
	// The msgpack library decodes the zero instant to time.Time{} and every
	// other instant in the local zone; keep UTC so output does not depend on
	// the host's TZ, and map the zero instant back to the zero Time.
	if t.Equal(zeroTime) {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

var zeroTime = time.Time{}

// skip passes over one value of any type (an unknown field).
func (d *decoder) skip(depth int) error {
	if depth > 32 {
		return errors.New("nesting too deep")
	}
	c, err := d.byte1()
	if err != nil {
		return err
	}
	var n uint64
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil
	case c >= 0xa0 && c <= 0xbf:
		_, err = d.take(int(c & 0x1f))
		return err
	case c >= 0x90 && c <= 0x9f:
		return d.skipN(int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return d.skipN(2*int(c&0x0f), depth)
	}
	switch c {
	case 0xcc, 0xd0:
		_, err = d.take(1)
	case 0xcd, 0xd1:
		_, err = d.take(2)
	case 0xce, 0xd2, 0xca:
		_, err = d.take(4)
	case 0xcf, 0xd3, 0xcb:
		_, err = d.take(8)
	case 0xd9, 0xc4:
		if n, err = d.uintN(1); err == nil {
			_, err = d.take(int(n))
		}
	case 0xda, 0xc5:
		if n, err = d.uintN(2); err == nil {
			_, err = d.take(int(n))
		}
	case 0xdb, 0xc6:
		if n, err = d.uintN(4); err == nil {
			_, err = d.takeLong(n)
		}
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16
		_, err = d.take(1 + 1<<(c-0xd4))
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32
		if n, err = d.uintN(1 << (c - 0xc7)); err == nil {
			_, err = d.takeLong(n + 1)
		}
	case 0xdc, 0xdd: // array 16/32
		if n, err = d.uintN(2 << (c - 0xdc)); err == nil {
			err = d.skipLong(n, depth)
		}
	case 0xde, 0xdf: // map 16/32
		if n, err = d.uintN(2 << (c - 0xde)); err == nil {
			err = d.skipLong(2*n, depth)
		}
	default:
		err = fmt.Errorf("invalid type byte 0x%02x", c)
	}
	return err
}

func (d *decoder) takeLong(n uint64) ([]byte, error) {
	if n > uint64(len(d.buf)) {
		return nil, errShort
	}
	return d.take(int(n))
}

func (d *decoder) skipLong(n uint64, depth int) error {
	// Every value takes at least one byte: a count beyond the data is corrupt.
	if n > uint64(len(d.buf)) {
		return errShort
	}
	return d.skipN(int(n), depth)
}

func (d *decoder) skipN(n, depth int) error {
	for i := 0; i < n; i++ {
		if err := d.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// fieldSet has one bit per known field, in fieldNames order.
type fieldSet uint8

var fieldNames = [...]string{"TimeStamp", "Username", "Effect", "Conclusion", "Request", "Policies", "Deciders", "ExpireAt"}

const allFields fieldSet = 1<<len(fieldNames) - 1

func missingFields(seen fieldSet) []string {
	var missing []string
	for i, name := range fieldNames {
		if seen&(1<<i) == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}

func (d *decoder) field(r *Record, key []byte) (fieldSet, error) {
	var err error
	var f fieldSet
	switch string(key) {
	case "TimeStamp":
		f = 1 << 0
		r.TimeStamp, err = d.int64()
	case "Username":
		f = 1 << 1
		r.Username, err = d.str()
	case "Effect":
		f = 1 << 2
		r.Effect, err = d.str()
	case "Conclusion":
		f = 1 << 3
		r.Conclusion, err = d.str()
	case "Request":
		f = 1 << 4
		r.Request, err = d.str()
	case "Policies":
		f = 1 << 5
		r.Policies, err = d.str()
	case "Deciders":
		f = 1 << 6
		r.Deciders, err = d.str()
	case "ExpireAt":
		f = 1 << 7
		r.ExpireAt, err = d.time()
	default:
		err = d.skip(0)
	}
	return f, err
}
