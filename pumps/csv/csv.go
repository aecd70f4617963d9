package csv

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
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
		New:         func() pumps.Sink { return &CSV{now: time.Now} },
	})
}

// Header is the first row of every file: the record's Go field names, as
// iam-pump writes it.
var Header = []string{"TimeStamp", "Username", "Effect", "Conclusion", "Request", "Policies", "Deciders", "ExpireAt"}

// Config is the csv pump's meta.
type Config struct {
	Dir   string `yaml:"csv_dir"`
	FSync *bool  `yaml:"fsync"`
}

// CSV appends records to <csv_dir>/<2006-01-02-15>.csv, one file per hour
// of local time, starting each file with Header.
type CSV struct {
	cfg  Config
	now  func() time.Time
	file *appendfile.File
	row  []string
}

// Configure implements pumps.Sink.
func (c *CSV) Configure(meta pumps.Meta) error {
	if err := pumps.DecodeMeta(meta, &c.cfg); err != nil {
		return err
	}
	if c.cfg.Dir == "" {
		return errors.New("meta.csv_dir: must name the directory for the CSV files")
	}
	return nil
}

// Init implements pumps.Sink. Files are opened on first write of each hour.
func (c *CSV) Init(context.Context) error {
	c.row = make([]string, len(Header))
	return nil
}

func (c *CSV) fileFor(t time.Time) (*appendfile.File, error) {
	path := filepath.Join(c.cfg.Dir, t.Format("2006-01-02-15")+".csv")
	if c.file != nil && c.file.Path == path {
		return c.file, nil
	}
	if c.file != nil {
		if err := c.file.Close(); err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		c.file = nil
	}
	f, err := appendfile.Open(path, c.cfg.FSync == nil || *c.cfg.FSync)
	if err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	c.file = f
	return f, nil
}

// Write implements pumps.Sink.
func (c *CSV) Write(_ context.Context, batch []analytics.Record) error {
	f, err := c.fileFor(c.now())
	if err != nil {
		return err
	}
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	err = f.Append(func(w *bufio.Writer) error {
		cw := csv.NewWriter(w)
		if size == 0 {
			if err := cw.Write(Header); err != nil {
				return err
			}
		}
		for i := range batch {
			if err := cw.Write(c.values(&batch[i])); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// values formats one record as iam does: the timestamp in decimal and
// ExpireAt as Go prints a time.
func (c *CSV) values(r *analytics.Record) []string {
	c.row[0] = strconv.FormatInt(r.TimeStamp, 10)
	c.row[1] = r.Username
	c.row[2] = r.Effect
	c.row[3] = r.Conclusion
	c.row[4] = r.Request
	c.row[5] = r.Policies
	c.row[6] = r.Deciders
	c.row[7] = r.ExpireAt.String()
	return c.row
}

// Close implements pumps.Sink.
func (c *CSV) Close(context.Context) error {
	if c.file == nil {
		return nil
	}
	err := c.file.Close()
	c.file = nil
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

var _ pumps.Sink = (*CSV)(nil)
