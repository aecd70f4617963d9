package postgres

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/pumps"
)

//go:embed sample.yaml
var sample string

func init() {
	pumps.Register(pumps.Info{
		Type:        "postgres",
		Description: "insert records into a PostgreSQL table (COPY, one transaction per batch, deduplicated by record id)",
		Sample:      sample,
		New:         func() pumps.Sink { return New() },
		Config:      func(s pumps.Sink) any { return s.(*Postgres).meta },
	})
}

// Defaults of the meta keys.
const (
	DefaultTable     = "iam_analytics"
	DefaultBatchSize = 1000
)

// Config is the postgres pump's meta section.
type Config struct {
	DSN       string `yaml:"dsn" help:"connection string, a URL (postgres://user:pw@host:5432/db?sslmode=require) or key=value pairs, with every libpq option pgx knows (sslmode, sslrootcert, connect_timeout, application_name, several hosts, ...); PG* environment variables fill what it leaves out" required:"true"`
	Table     string `yaml:"table" help:"table or schema.table: letters, digits and _ only, at most 63 bytes a part. The name is quoted as written, so Decisions and decisions are different tables."`
	BatchSize int    `yaml:"batch_size" help:"at most this many records go in one transaction; a larger batch is written in several (each idempotent, so a retry after a partial write stores nothing twice)"`
}

// Postgres writes records into one table. Each batch (or each batch_size
// records of it) is copied into the table in one transaction; when the
// table holds one of its record ids already, it is copied into a temporary
// staging table instead and inserted from there in the same transaction,
// skipping the ids stored, so a batch delivered twice is stored once.
type Postgres struct {
	meta    Config
	config  *pgxpool.Config
	table   pgx.Identifier
	secrets redact.Secrets // the DSN's password, kept out of errors
	pool    *pgxpool.Pool

	// SQL built once from the table name.
	createTable, createIndex, stage, insert, probe string
}

// New returns an unconfigured postgres sink.
func New() *Postgres {
	return &Postgres{meta: Config{Table: DefaultTable, BatchSize: DefaultBatchSize}}
}

// columns are the table's columns that the sink fills, in COPY order.
var columns = []string{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expire_at", "record_id"}

// identPart is one part of a table name the sink accepts: what PostgreSQL
// takes unquoted, in either case, so a name never needs escaping.
var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Configure decodes and checks the meta. It does no I/O.
func (p *Postgres) Configure(meta pumps.Meta) error {
	m := p.meta
	if err := pumps.DecodeMeta(meta, &m); err != nil {
		return err
	}
	if strings.TrimSpace(m.DSN) == "" {
		return errors.New("meta.dsn: must not be empty, e.g. postgres://pump@localhost:5432/iam")
	}
	cfg, err := pgxpool.ParseConfig(m.DSN)
	if err != nil {
		return fmt.Errorf("meta.dsn: %s", parseProblem(err))
	}
	table, err := parseTable(m.Table)
	if err != nil {
		return err
	}
	if m.BatchSize < 1 || m.BatchSize > 1_000_000 {
		return fmt.Errorf("meta.batch_size: must be between 1 and 1000000, got %d", m.BatchSize)
	}
	// A connection per concurrent Write (the pump's workers, at most 64),
	// opened as they are needed, and one spare for a reconnect.
	cfg.MaxConns = 65
	p.meta, p.config, p.table = m, cfg, table
	p.secrets = redact.Secrets{}
	p.secrets.AddURLs(m.DSN)
	p.secrets.Add(cfg.ConnConfig.Password)
	p.buildSQL()
	return nil
}

// parseProblem describes a DSN that does not parse without quoting it:
// the string may hold a password.
func parseProblem(err error) string {
	const msg = "not a valid connection string (want postgres://user@host:5432/db or host=... dbname=...; the value is not shown, it may hold a password)"
	var ue *url.Error
	if errors.As(err, &ue) {
		// net/url's own reasons name a port or an escape, never the password.
		return msg + ": " + ue.Err.Error()
	}
	return msg
}

func parseTable(name string) (pgx.Identifier, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("meta.table: want table or schema.table, got %q", name)
	}
	for _, part := range parts {
		if !identPart.MatchString(part) || len(part) > 63 {
			return nil, fmt.Errorf("meta.table: %q is not a plain identifier (letters, digits and _, not starting with a digit, at most 63 bytes; optionally schema.table)", name)
		}
	}
	return pgx.Identifier(parts), nil
}

func (p *Postgres) buildSQL() {
	t := p.table.Sanitize()
	idx := p.table[len(p.table)-1] + "_timestamp_idx"
	if len(idx) > 63 {
		idx = idx[len(idx)-63:]
	}
	p.createTable = `CREATE TABLE IF NOT EXISTS ` + t + ` (
	"timestamp"  bigint      NOT NULL,
	username     text        NOT NULL,
	effect       text        NOT NULL,
	conclusion   text        NOT NULL,
	request      text        NOT NULL,
	policies     text        NOT NULL,
	deciders     text        NOT NULL,
	expire_at    timestamptz,
	record_id    text        NOT NULL UNIQUE,
	inserted_at  timestamptz NOT NULL DEFAULT now()
)`
	p.createIndex = `CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{idx}.Sanitize() + ` ON ` + t + ` ("timestamp")`
	p.stage = `CREATE TEMP TABLE pump_staging (
	"timestamp" bigint, username text, effect text, conclusion text, request text,
	policies text, deciders text, expire_at timestamptz, record_id text
) ON COMMIT DROP`
	cols := `"timestamp", username, effect, conclusion, request, policies, deciders, expire_at, record_id`
	p.insert = `INSERT INTO ` + t + ` (` + cols + `) SELECT ` + cols + ` FROM pump_staging ON CONFLICT (record_id) DO NOTHING`
	// probe plans the insert against the real table without writing: a
	// table that lacks a column, has another type or no unique record_id
	// fails here, at start-up, instead of on every batch.
	p.probe = `INSERT INTO ` + t + ` (` + cols + `) SELECT 0::bigint, '', '', '', '', '', '', NULL::timestamptz, '' WHERE false ON CONFLICT (record_id) DO NOTHING`
}

// Init connects, creates the table and its index when missing, and checks
// that an existing table fits.
func (p *Postgres) Init(ctx context.Context) error {
	pool, err := pgxpool.NewWithConfig(ctx, p.config)
	if err != nil {
		return p.wrap("connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return p.wrap("connect", err)
	}
	for _, stmt := range []string{p.createTable, p.createIndex} {
		_, err = pool.Exec(ctx, stmt)
		if isCode(err, "23505", "42P07") {
			// Another instance created it at the same moment.
			_, err = pool.Exec(ctx, stmt)
		}
		if err != nil {
			pool.Close()
			return p.wrap("create table "+p.table.Sanitize(), err)
		}
	}
	if _, err := pool.Exec(ctx, p.probe); err != nil {
		pool.Close()
		return p.wrap("check table "+p.table.Sanitize()+" (it exists with other columns?)", err)
	}
	p.pool = pool
	return nil
}

// Write stores the batch, batch_size records per transaction. Records that
// PostgreSQL cannot hold as they are (a NUL byte or invalid UTF-8 in a
// text field, a date beyond its range) are rejected one by one; the rest
// are written.
func (p *Postgres) Write(ctx context.Context, batch []analytics.Record) error {
	if p.pool == nil {
		return errors.New("postgres: Write before Init")
	}
	rows := make([][]any, 0, len(batch))
	var rejected []pumps.Rejection
	for i := range batch {
		row, err := toRow(&batch[i])
		if err != nil {
			rejected = append(rejected, pumps.Rejection{Index: i, Err: fmt.Errorf("postgres: %w", err)})
			continue
		}
		rows = append(rows, row)
	}
	for start := 0; start < len(rows); start += p.meta.BatchSize {
		end := min(start+p.meta.BatchSize, len(rows))
		if err := p.writeRows(ctx, rows[start:end]); err != nil {
			return err
		}
	}
	if len(rejected) > 0 {
		return &pumps.RejectedError{Rejections: rejected}
	}
	return nil
}

// writeRows copies rows straight into the table, in one transaction: what
// a batch seen for the first time needs, at COPY's speed. When the table
// holds one of their record ids already (a batch delivered again after a
// crash or a retry, or written by another write at the same moment) the
// unique index refuses that copy and nothing of it stays: the rows go in
// through a staging table then, skipping the ids stored.
func (p *Postgres) writeRows(ctx context.Context, rows [][]any) error {
	err := p.copyRows(ctx, rows)
	if !isCode(err, "23505") { // unique_violation on record_id
		return err
	}
	return p.stageRows(ctx, rows)
}

func (p *Postgres) copyRows(ctx context.Context, rows [][]any) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return p.wrap("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if _, err := tx.CopyFrom(ctx, p.table, columns, pgx.CopyFromRows(rows)); err != nil {
		if isCode(err, "23505") {
			return err // not wrapped: the staging path takes over
		}
		return p.wrap(fmt.Sprintf("copy %d rows into %s", len(rows), p.table.Sanitize()), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return p.wrap("commit", err)
	}
	return nil
}

func (p *Postgres) stageRows(ctx context.Context, rows [][]any) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return p.wrap("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if _, err := tx.Exec(ctx, p.stage); err != nil {
		return p.wrap("create staging table", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pump_staging"}, columns, pgx.CopyFromRows(rows)); err != nil {
		return p.wrap(fmt.Sprintf("copy %d rows", len(rows)), err)
	}
	if _, err := tx.Exec(ctx, p.insert); err != nil {
		return p.wrap("insert into "+p.table.Sanitize(), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return p.wrap("commit", err)
	}
	return nil
}

// PostgreSQL's timestamptz spans 4713 BC to 294276 AD.
var (
	minTime = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(294276, 1, 1, 0, 0, 0, 0, time.UTC)
)

func toRow(r *analytics.Record) ([]any, error) {
	for _, f := range [...]struct{ name, v string }{
		{"username", r.Username}, {"effect", r.Effect}, {"conclusion", r.Conclusion},
		{"request", r.Request}, {"policies", r.Policies}, {"deciders", r.Deciders},
	} {
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("%s is not valid UTF-8, which a text column cannot hold", f.name)
		}
		if strings.IndexByte(f.v, 0) >= 0 {
			return nil, fmt.Errorf("%s holds a NUL byte, which a text column cannot hold", f.name)
		}
	}
	var expire any // NULL for the zero time: no expiry recorded
	if !r.ExpireAt.IsZero() {
		if r.ExpireAt.Before(minTime) || !r.ExpireAt.Before(maxTime) {
			return nil, fmt.Errorf("expireAt %v is outside what timestamptz can hold", r.ExpireAt)
		}
		expire = r.ExpireAt
	}
	return []any{r.TimeStamp, r.Username, r.Effect, r.Conclusion, r.Request, r.Policies, r.Deciders, expire, r.ID()}, nil
}

// permanentClasses are SQLSTATE classes that retrying the same statement
// cannot fix: data exceptions (22), integrity violations (23), syntax and
// access rule violations (42: a missing column, no privilege), features
// not supported (0A) and WITH CHECK OPTION violations (44).
var permanentClasses = map[string]bool{"22": true, "23": true, "42": true, "0A": true, "44": true}

// wrap adds what the sink was doing, classifies the error and keeps the
// password out of its text.
func (p *Postgres) wrap(action string, err error) error {
	out := p.secrets.Error(fmt.Errorf("postgres: %s: %w", action, err))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && permanentClasses[pgErr.Code[:2]] {
		return pumps.Permanent(out)
	}
	return out
}

func isCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}

// Close releases the connections; every write is committed when Write
// returns, so nothing is buffered.
func (p *Postgres) Close(context.Context) error {
	if p.pool != nil {
		p.pool.Close()
		p.pool = nil
	}
	return nil
}

// WritesConcurrently implements pumps.Concurrent: each Write copies into a
// staging table of its own connection's transaction and inserts skipping
// the record ids already stored, so batches may be written at once and in
// any order.
func (p *Postgres) WritesConcurrently() {}

var _ pumps.Concurrent = (*Postgres)(nil)
