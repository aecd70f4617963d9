package analytics

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrJSONTime is returned for an ExpireAt that JSON's RFC 3339 form cannot
// hold (a year outside 0-9999), as encoding/json refuses it too.
var ErrJSONTime = errors.New("expireAt: year outside of range [0,9999]")

// AppendJSON appends r as one JSON object with iam's json field names, the
// document encoding/json would produce without its HTML escaping (except
// that \b and \f are written as \u0008 and \u000c), without reflection or
// allocations: the JSON sinks encode every record. It appends r.JSON when
// that is set. On error b is returned unchanged.
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
	b = appendRFC3339Nano(b, r.ExpireAt)
	return append(b, `"}`...), nil
}

// appendRFC3339Nano appends t as t.AppendFormat(b, time.RFC3339Nano) does,
// digit by digit for UTC (every decoded record's zone) rather than through
// the layout interpreter. The year must be in 0-9999.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	return append(AppendUTC(b, t, 'T'), 'Z')
}

// AppendUTC appends t's date, sep, its clock and the fraction of a second
// with its trailing zeros cut (the layouts' .999999999), digit by digit:
// the layout interpreter costs a fifth of a CSV row's instructions. t must
// be in UTC and its year in 0-9999; the caller appends the zone.
func AppendUTC(b []byte, t time.Time, sep byte) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), sep,
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	ns := t.Nanosecond()
	if ns == 0 {
		return b
	}
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i > 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := len(frac)
	for frac[n-1] == '0' {
		n--
	}
	return append(b, frac[:n]...)
}

// AppendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
//
// The fields the sinks encode most (request, policies, deciders) are JSON
// text themselves: a quote or backslash every few bytes and little else to
// escape. So s is written into room reserved for it at once, as much as
// the longest escapes could take, word by word, without an append (and its
// capacity check) per escape or per run between two escapes. A string
// longer than jsonPiece is written a piece at a time, so the room reserved
// beyond what it takes is a piece's worst case, not six times the string.
func AppendJSONString(b []byte, s string) []byte {
	if len(s) > jsonPiece {
		return appendLongJSONString(b, s)
	}
	n := len(b)
	room := 1 + maxEscapedLen*len(s) + wordSlack
	b = slices.Grow(b, room)
	j := appendEscaped(b[:n+room], n+1, s)
	b = b[:j+1]
	b[n] = '"'
	b[j] = '"'
	return b
}

// jsonPiece is how much of a long string AppendJSONString escapes at once.
const jsonPiece = 64 << 10

// pieceCut is where the next piece of s ends: at most jsonPiece bytes, at
// the start of a rune. A rune is at most 4 bytes: when the byte at the cut
// continues one, that rune starts within the 3 before it, or it is no
// valid rune and the cut changes nothing.
func pieceCut(s string) int {
	cut := min(len(s), jsonPiece)
	for k := 1; cut < len(s) && !utf8.RuneStart(s[cut]) && k < utf8.UTFMax; k++ {
		if utf8.RuneStart(s[cut-k]) {
			return cut - k
		}
	}
	return cut
}

// appendLongJSONString grows b once for s with its quotes and backslashes
// escaped (what JSON text needs; the rarer escapes grow it further), then
// escapes s a piece at a time, each cut at the start of a rune.
func appendLongJSONString(b []byte, s string) []byte {
	const pieceRoom = maxEscapedLen*jsonPiece + wordSlack
	if cap(b)-len(b) < 2*len(s)+pieceRoom { // else the (reused) buffer holds it: no need to count
		need := len(s) + strings.Count(s, `"`) + strings.Count(s, `\`) + 2
		b = slices.Grow(b, need+pieceRoom)
	}
	b = append(b, '"')
	for len(s) > 0 {
		b, s = appendPiece(b, s)
	}
	return append(b, '"')
}

// appendPiece escapes the first piece of s (cut at the start of a rune)
// onto b and returns what is left of s.
func appendPiece(b []byte, s string) ([]byte, string) {
	cut := pieceCut(s)
	n := len(b)
	room := maxEscapedLen*cut + wordSlack
	b = slices.Grow(b, room)
	return b[:appendEscaped(b[:n+room], n, s[:cut])], s[cut:]
}

const (
	ones = 0x0101010101010101
	low7 = 0x7f7f7f7f7f7f7f7f
	high = 0x8080808080808080
	// maxEscapedLen is the most bytes one byte of a string takes in JSON:
	// a control character (\u001f) or an invalid byte (\ufffd).
	maxEscapedLen = 6
	// wordSlack is the room appendEscaped needs beyond that, for the
	// closing quote and its word stores, which reach past what they keep.
	wordSlack = 16
)

// appendEscaped writes s escaped to out from out[j] on and returns where
// it ended. out must have room for maxEscapedLen bytes for each byte of s
// and wordSlack more.
//
// Eight bytes at a time: it stores each word of s as it is, and for each
// quote or backslash in it writes a backslash over that byte and the rest
// of the word again one byte further on. A run between two quotes costs
// no copy and no branch of its own. The rest (control characters and
// non-ASCII runes) goes to appendRare.
func appendEscaped(out []byte, j int, s string) int {
	i := 0
	for i+8 <= len(s) {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		binary.LittleEndian.PutUint64(out[j:j+8], x)
		escape, rare := special(x)
		if escape|rare == 0 {
			i += 8
			j += 8
			continue
		}
		n := 8 // bytes of the word done here
		if rare != 0 {
			n = bits.TrailingZeros64(rare) >> 3
			escape &= rare&-rare - 1 // only those before the rare byte
		}
		shift := 0 // backslashes written in this word so far
		for ; escape != 0; escape &= escape - 1 {
			k := bits.TrailingZeros64(escape) >> 3
			out[j+k+shift] = '\\'
			binary.LittleEndian.PutUint64(out[j+k+shift+1:j+k+shift+9], x>>(uint(k*8)&63))
			shift++
		}
		i += n
		j += n + shift
		if n < 8 {
			i, j = appendRare(out, j, s, i)
		}
	}
	for i < len(s) {
		switch c := s[i]; {
		case plainByte[c]:
			out[j] = c
			i++
			j++
		case c == '"' || c == '\\':
			out[j] = '\\'
			out[j+1] = c
			i++
			j += 2
		default:
			i, j = appendRare(out, j, s, i)
		}
	}
	return j
}

// special marks with its high bit each byte of x that is a quote or a
// backslash (escape), or below 0x20 or not ASCII (rare). Each byte is
// computed on its own low seven bits, so no carry runs between bytes.
func special(x uint64) (escape, rare uint64) {
	x7 := x & low7
	notQuote := (x7 ^ ones*'"') + low7      // high bit set unless the byte is '"'
	notBackslash := (x7 ^ ones*'\\') + low7 // unless it is '\\'
	notControl := x7 + ones*(0x80-0x20)     // unless it is below 0x20
	rare = (^notControl | x) & high
	escape = ^(notQuote & notBackslash) & high &^ rare
	return escape, rare
}

// plainByte marks the ASCII bytes a JSON string holds as they are.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// shortEscape is the second byte of the two-byte escapes of control
// characters, zero for those written as \u00XX. encoding/json also writes
// \b and \f so since Go 1.22; AppendJSON has always written \u0008 and
// \u000c, and keeps its output.
var shortEscape = [utf8.RuneSelf]byte{'\n': 'n', '\r': 'r', '\t': 't'}

// appendRare writes at out[j] the control character at s[i] escaped, or
// the run of non-ASCII runes there as encoding/json does (invalid bytes as
// U+FFFD, line and paragraph separators escaped), and returns where it
// stopped in s and out.
func appendRare(out []byte, j int, s string, i int) (int, int) {
	if c := s[i]; c < utf8.RuneSelf {
		if e := shortEscape[c]; e != 0 {
			out[j] = '\\'
			out[j+1] = e
			return i + 1, j + 2
		}
		copy(out[j:j+4], `\u00`)
		out[j+4] = hexDigits[c>>4]
		out[j+5] = hexDigits[c&0xf]
		return i + 1, j + 6
	}
	start := i // of the runes written as they are
	for i < len(s) {
		// The two- and three-byte forms, which most non-ASCII text is made
		// of, are checked here; the rest by the general decoder.
		c := s[i]
		if c >= 0xc2 && c <= 0xdf && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			i += 2
			continue
		}
		if c >= 0xe1 && c <= 0xec && c != 0xe2 && i+2 < len(s) && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 {
			i += 3 // neither overlong (0xe0), nor a surrogate (0xed), nor U+2028 (0xe2)
			continue
		}
		if c < utf8.RuneSelf {
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != '\u2028' && r != '\u2029' && (r != utf8.RuneError || size > 1) {
			i += size
			continue
		}
		j += copy(out[j:], s[start:i])
		if size == 1 {
			j += copy(out[j:j+6], `\ufffd`)
		} else {
			j += copy(out[j:j+5], `\u202`)
			out[j] = hexDigits[r&0xf]
			j++
		}
		i += size
		start = i
	}
	return i, j + copy(out[j:], s[start:i])
}
