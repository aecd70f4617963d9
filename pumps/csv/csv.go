package csv

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/pumps/internal/appendfile"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "csv",
		Description: "hourly CSV files in csv_dir, as iam-pump writes them",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*CSV).cfg },
	})
}

// New returns an unconfigured csv sink; Configure gives it its meta.
func New() *CSV {
	fsync := true // a pointer, so that the meta can say false
	return &CSV{now: time.Now, cfg: Config{FSync: &fsync}}
}

// Header is the first row of every file: the record's Go field names, as
// iam-pump writes it.
var Header = []string{"TimeStamp", "Username", "Effect", "Conclusion", "Request", "Policies", "Deciders", "ExpireAt"}

// Config is the csv pump's meta.
type Config struct {
	Dir   string `yaml:"csv_dir" help:"directory of the hourly CSV files; created when missing" required:"true"`
	FSync *bool  `yaml:"fsync" help:"fdatasync the file before a batch is trimmed from Redis (false: a power cut may lose what the page cache held)"`
	// FileNameFormat names the hourly files: "iam" (the default) as iam-pump
	// and Tyk Pump do, 2026-December-1-9.csv, or "sortable",
	// 2026-12-01-09.csv, whose names sort in time order.
	FileNameFormat string `yaml:"file_name_format" help:"how the hourly files are named: iam (empty means iam), 2026-December-1-9.csv as iam-pump names them, or sortable, 2026-12-01-09.csv"`
}

// The values of file_name_format.
const (
	FileNamesIAM      = "iam"
	FileNamesSortable = "sortable"
)

// CSV appends records to one file per hour of local time in csv_dir,
// starting each file with Header. It follows the hour's path through log
// rotation (see appendfile).
type CSV struct {
	cfg      Config
	now      func() time.Time
	fileName func(time.Time) string
	file     *appendfile.File
	buf      []byte
}

// Configure implements pumps.Sink.
func (c *CSV) Configure(meta pumps.Meta) error {
	if err := pumps.DecodeMeta(meta, &c.cfg); err != nil {
		return err
	}
	if c.cfg.Dir == "" {
		return errors.New("meta.csv_dir: must name the directory for the CSV files")
	}
	switch c.cfg.FileNameFormat {
	case "", FileNamesIAM:
		c.fileName = iamFileName
	case FileNamesSortable:
		c.fileName = sortableFileName
	default:
		return fmt.Errorf("meta.file_name_format: want %s or %s, got %q", FileNamesIAM, FileNamesSortable, c.cfg.FileNameFormat)
	}
	return nil
}

// iamFileName is iam-pump's name for the hour's file: month by name, day
// and hour without zero padding.
func iamFileName(t time.Time) string {
	return fmt.Sprintf("%d-%s-%d-%d.csv", t.Year(), t.Month(), t.Day(), t.Hour())
}

func sortableFileName(t time.Time) string {
	return t.Format("2006-01-02-15") + ".csv"
}

// Init implements pumps.Sink. Files are opened on first write of each hour.
func (c *CSV) Init(context.Context) error {
	c.file = appendfile.New(appendfile.Options{
		Sync:   c.cfg.FSync == nil || *c.cfg.FSync,
		Header: AppendRow(nil, Header...),
	})
	return nil
}

// Write implements pumps.Sink.
func (c *CSV) Write(_ context.Context, batch []analytics.Record) error {
	path := filepath.Join(c.cfg.Dir, c.fileName(c.now()))
	err := c.file.Append(path, func(w *bufio.Writer) error {
		for i := range batch {
			c.buf = appendRecord(c.buf[:0], &batch[i])
			if _, err := w.Write(c.buf); err != nil {
				return err
			}
		}
		return nil
	})
	if cap(c.buf) > pumps.MaxKeptBuffer {
		c.buf = nil // one huge record's buffer goes with its batch
	}
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// expireAtLayout is how Go prints a time.Time (its String method), which
// is how iam-pump writes ExpireAt.
const expireAtLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// appendRecord appends one record as a CSV row, formatted as iam does: the
// timestamp in decimal and ExpireAt as Go prints a time.
func appendRecord(b []byte, r *analytics.Record) []byte {
	b = strconv.AppendInt(b, r.TimeStamp, 10)
	for _, field := range [...]string{r.Username, r.Effect, r.Conclusion, r.Request, r.Policies, r.Deciders} {
		b = append(b, ',')
		b = appendField(b, field)
	}
	b = append(b, ',')
	b = appendExpireAt(b, r.ExpireAt)
	return append(b, '\n')
}

// appendExpireAt appends t as t.AppendFormat(b, expireAtLayout) does,
// digit by digit for UTC (every decoded record's zone) in years 0-9999.
func appendExpireAt(b []byte, t time.Time) []byte {
	if year := t.Year(); t.Location() != time.UTC || year < 0 || year > 9999 {
		return t.AppendFormat(b, expireAtLayout)
	}
	return append(analytics.AppendUTC(b, t, ' '), " +0000 UTC"...)
}

// AppendRow appends fields as one CSV row (RFC 4180, "\n" line ends).
func AppendRow(b []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendField(b, f)
	}
	return append(b, '\n')
}

// wordSlack is room past a quoted field's end for the word-wide stores of
// appendDoubled, which may write up to 16 bytes beyond the last one.
const wordSlack = 16

// appendField quotes a field when it holds a separator, a quote, a line
// break or leading space, doubling its quotes, as encoding/csv does. The
// records' JSON columns always need it and hold a quote every few bytes,
// so the field is copied into room reserved for it at once (twice its
// length, every byte a quote at worst), a word at a time.
func appendField(b []byte, f string) []byte {
	if !needsQuotes(f) {
		return append(b, f...)
	}
	n := len(b)
	b = slices.Grow(b, 2+2*len(f)+wordSlack)
	out := b[:cap(b)]
	out[n] = '"'
	j := appendDoubled(out, n+1, f)
	out[j] = '"'
	return out[:j+1]
}

const (
	ones = 0x0101010101010101
	low7 = 0x7f7f7f7f7f7f7f7f
	high = 0x8080808080808080
)

// appendDoubled writes s at out[j:] with each quote doubled and returns
// where it ended. out must hold 2*len(s)+wordSlack bytes from j.
func appendDoubled(out []byte, j int, s string) int {
	i := 0
	for i+8 <= len(s) {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		binary.LittleEndian.PutUint64(out[j:j+8], x)
		// The high bit of each byte that is '"': computed on the low seven
		// bits so no carry crosses bytes, and not for bytes above 0x7f.
		q := ^((x&low7 ^ ones*'"') + low7) & high &^ x
		shift := 0 // quotes added in this word so far
		for ; q != 0; q &= q - 1 {
			k := bits.TrailingZeros64(q) >> 3
			// A quote, then the word from its quote on, one byte further.
			out[j+k+shift] = '"'
			binary.LittleEndian.PutUint64(out[j+k+shift+1:j+k+shift+9], x>>(uint(k*8)&63))
			shift++
		}
		i += 8
		j += 8 + shift
	}
	for ; i < len(s); i++ {
		out[j] = s[i]
		j++
		if s[i] == '"' {
			out[j] = '"'
			j++
		}
	}
	return j
}

// needsQuotes says whether encoding/csv would quote f. The quote is looked
// for first: every JSON column has one within its first bytes.
func needsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` || f[0] == ' ' || f[0] == '\t' {
		return true
	}
	return strings.IndexByte(f, '"') >= 0 || strings.IndexByte(f, ',') >= 0 ||
		strings.IndexByte(f, '\n') >= 0 || strings.IndexByte(f, '\r') >= 0
}

// Reopen implements pumps.Reopener: the hour's file is closed now (or,
// when a write holds it, after that write) and its path opened again for
// the next batch.
func (c *CSV) Reopen() error {
	if c.file == nil {
		return nil
	}
	if err := c.file.Reopen(); err != nil {
		return fmt.Errorf("csv: reopen: %w", err)
	}
	return nil
}

// Sync implements pumps.Syncer: with fsync on (the default) Write only
// writes and Sync fdatasyncs what the Writes before it wrote; with fsync
// off it does nothing.
func (c *CSV) Sync(context.Context) error {
	if c.file == nil {
		return nil
	}
	if err := c.file.Sync(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// Close implements pumps.Sink.
func (c *CSV) Close(context.Context) error {
	if c.file == nil {
		return nil
	}
	if err := c.file.Close(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

var (
	_ pumps.Sink     = (*CSV)(nil)
	_ pumps.Reopener = (*CSV)(nil)
	_ pumps.Syncer   = (*CSV)(nil)
)
