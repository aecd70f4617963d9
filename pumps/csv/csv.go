package csv

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
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
	b = r.ExpireAt.AppendFormat(b, expireAtLayout)
	return append(b, '\n')
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

// appendField quotes a field when it holds a separator, a quote, a line
// break or leading space, doubling its quotes, as encoding/csv does; the
// records' JSON columns always need it, so this avoids encoding/csv's
// rune-by-rune writing of quoted fields.
func appendField(b []byte, f string) []byte {
	if !needsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		b = append(b, f[:i+1]...)
		b = append(b, '"')
		f = f[i+1:]
	}
	b = append(b, f...)
	return append(b, '"')
}

func needsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` || f[0] == ' ' || f[0] == '\t' {
		return true
	}
	return strings.ContainsAny(f, ",\"\r\n")
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
