package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
)

// The tests use the PostgreSQL server on 127.0.0.1:5432 (trust auth, user
// postgres). Each test gets a database of its own, dropped at the end.

const adminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// createDB creates an empty database and returns its name and a DSN.
func createDB(t testing.TB) (string, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatalf("PostgreSQL on 127.0.0.1:5432 is needed: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pump_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), adminDSN)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name, "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}

// connect opens a connection of the test's own, to look at what the sink
// wrote.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t testing.TB, c *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// newSink configures and initialises a sink, closed when the test ends.
func newSink(t testing.TB, meta pumps.Meta) *Postgres {
	return testutil.StartSink(t, New(), meta)
}

// row is one stored record as the table holds it.
type row struct {
	analytics.Record
	RecordID string
	HasExp   bool
}

func readAll(t testing.TB, c *pgx.Conn, table string) map[string]row {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT "timestamp", username, effect, conclusion, request,
		policies, deciders, expire_at, record_id FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var r row
		var exp *time.Time
		if err := rows.Scan(&r.TimeStamp, &r.Username, &r.Effect, &r.Conclusion, &r.Request,
			&r.Policies, &r.Deciders, &exp, &r.RecordID); err != nil {
			t.Fatal(err)
		}
		if exp != nil {
			r.ExpireAt, r.HasExp = *exp, true
		}
		if _, dup := out[r.RecordID]; dup {
			t.Errorf("record_id %s stored twice", r.RecordID)
		}
		out[r.RecordID] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConfigureRejectsBadMetaNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		meta pumps.Meta
		want string
	}{
		{"no dsn", pumps.Meta{}, "meta.dsn: must not be empty"},
		{"dsn not parsable", pumps.Meta{"dsn": "postgres://u:pw@host:notaport/db"}, "meta.dsn: not a valid connection string"},
		{"dsn of the wrong type", pumps.Meta{"dsn": []any{"a"}}, "meta.dsn: want a string"},
		{"table with a statement in it", pumps.Meta{"dsn": "postgres://h/db", "table": "t; DROP TABLE x"}, `meta.table: "t; DROP TABLE x" is not a plain identifier`},
		{"table with a quote", pumps.Meta{"dsn": "postgres://h/db", "table": `t"x`}, "meta.table:"},
		{"table starting with a digit", pumps.Meta{"dsn": "postgres://h/db", "table": "1t"}, "meta.table:"},
		{"table too long", pumps.Meta{"dsn": "postgres://h/db", "table": strings.Repeat("t", 64)}, "meta.table:"},
		{"three-part table", pumps.Meta{"dsn": "postgres://h/db", "table": "a.b.c"}, "meta.table: want table or schema.table"},
		{"empty table", pumps.Meta{"dsn": "postgres://h/db", "table": ""}, "meta.table:"},
		{"batch_size zero", pumps.Meta{"dsn": "postgres://h/db", "batch_size": 0}, "meta.batch_size: must be between 1 and 1000000"},
		{"batch_size not a number", pumps.Meta{"dsn": "postgres://h/db", "batch_size": "many"}, "meta.batch_size: want a whole number"},
		{"typo", pumps.Meta{"dsn": "postgres://h/db", "tabel": "t"}, `meta.tabel: unknown key (did you mean "table"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(tt.meta)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Configure = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigureErrorsNeverShowThePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://pump:s3cret-pw@host:notaport/db",
		"postgres://pump:s3cret-pw@[::1/db",
		"host=h password=s3cret-pw port=notaport",
		"host=h password='s3cret-pw",
	} {
		err := New().Configure(pumps.Meta{"dsn": dsn})
		if err == nil {
			t.Errorf("Configure(%q) accepted a bad dsn", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestConfigureAcceptsPlainAndSchemaTables(t *testing.T) {
	for _, table := range []string{"iam_analytics", "Analytics2", "audit.iam_analytics", "_t"} {
		p := New()
		if err := p.Configure(pumps.Meta{"dsn": "host=h dbname=d", "table": table}); err != nil {
			t.Errorf("table %q: %v", table, err)
		}
	}
	p := New()
	if err := p.Configure(pumps.Meta{"dsn": "postgres://h/d"}); err != nil {
		t.Fatal(err)
	}
	if p.meta.Table != DefaultTable || p.meta.BatchSize != DefaultBatchSize {
		t.Errorf("defaults: table %q batch_size %d", p.meta.Table, p.meta.BatchSize)
	}
}

// The sample's content is checked for every sink in pumps/all; here, that
// the sink registers this package's own sample.yaml.
func TestRegisteredWithItsSample(t *testing.T) {
	if info, ok := pumps.Lookup("postgres"); !ok || info.Sample != sample {
		t.Fatal("postgres is not registered with its sample")
	}
}

func TestInitCreatesATypedTableWithAnIndex(t *testing.T) {
	_, dsn := createDB(t)
	newSink(t, pumps.Meta{"dsn": dsn, "table": "decisions"})
	c := connect(t, dsn)
	rows, err := c.Query(context.Background(),
		`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'decisions'`)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	want := map[string]string{
		"timestamp": "bigint", "username": "text", "effect": "text", "conclusion": "text",
		"request": "text", "policies": "text", "deciders": "text",
		"expire_at": "timestamp with time zone", "record_id": "text",
		"inserted_at": "timestamp with time zone",
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("column %s has type %q, want %q", col, types[col], typ)
		}
	}
	var indexes []string
	rows, err = c.Query(context.Background(), `SELECT indexdef FROM pg_indexes WHERE tablename = 'decisions'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, def)
	}
	all := strings.Join(indexes, "\n")
	if !strings.Contains(all, "UNIQUE INDEX") || !strings.Contains(all, "(record_id)") {
		t.Errorf("no unique index on record_id:\n%s", all)
	}
	if !strings.Contains(all, `("timestamp")`) {
		t.Errorf("no index on timestamp:\n%s", all)
	}
	// A second start finds everything in place.
	newSink(t, pumps.Meta{"dsn": dsn, "table": "decisions"})
}

// The fields themselves are checked by TestConformance (sinktest); here
// what is postgres's own: one row per record_id, and expire_at NULL exactly
// for iam's zero time.
func TestWriteGoldenRecordsFieldByField(t *testing.T) {
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn})
	decoded, want := testutil.GoldenDecoded(t), testutil.GoldenExpected(t)
	if err := p.Write(context.Background(), decoded); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := readAll(t, connect(t, dsn), DefaultTable)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		r, ok := got[decoded[i].ID()]
		if !ok {
			t.Errorf("golden record %d missing (record_id %s)", i, decoded[i].ID())
			continue
		}
		if r.Username != w.Username || r.TimeStamp != w.TimeStamp {
			t.Errorf("record_id %s holds %s at %d, want golden record %d", r.RecordID, r.Username, r.TimeStamp, i)
		}
		if r.HasExp != !w.ExpireAt.IsZero() {
			t.Errorf("golden record %d: expire_at NULL is %v, want it NULL exactly for the zero time", i, !r.HasExp)
		}
	}
}

func TestWriteTwiceStoresOnce(t *testing.T) {
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn})
	ctx := context.Background()
	if err := p.Write(ctx, testutil.Records(t, 0, 100)); err != nil {
		t.Fatal(err)
	}
	// The same batch again (a crash before the trim), then an overlapping
	// one, and a batch holding one record twice.
	if err := p.Write(ctx, testutil.Records(t, 0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, testutil.Records(t, 50, 150)); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, append(testutil.Records(t, 150, 151), testutil.Records(t, 150, 151)...)); err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	if n := count(t, c, DefaultTable); n != 151 {
		t.Errorf("%d rows, want 151", n)
	}
	got := readAll(t, c, DefaultTable)
	for _, r := range testutil.Records(t, 0, 151) {
		if g, ok := got[r.ID()]; !ok || testutil.IDOf(g.Record) != testutil.IDOf(r) {
			t.Errorf("record %s missing or wrong", testutil.IDOf(r))
		}
	}
}

func TestWriteSplitsIntoTransactionsOfBatchSize(t *testing.T) {
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn, "batch_size": 7})
	if err := p.Write(context.Background(), testutil.Records(t, 0, 50)); err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	var n, txs int
	if err := c.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT xmin::text) FROM `+DefaultTable).Scan(&n, &txs); err != nil {
		t.Fatal(err)
	}
	if n != 50 || txs != 8 {
		t.Errorf("%d rows in %d transactions, want 50 in 8", n, txs)
	}
}

func TestWriteRejectsOnlyRecordsATextColumnCannotHold(t *testing.T) {
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn})
	batch := testutil.Records(t, 0, 6)
	batch[1].Username = "nul\x00byte"
	batch[4].Request = "bad utf-8 \xff\xfe"
	err := p.Write(context.Background(), batch)
	var rej *pumps.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("Write = %v, want a RejectedError", err)
	}
	if len(rej.Rejections) != 2 || rej.Rejections[0].Index != 1 || rej.Rejections[1].Index != 4 {
		t.Fatalf("rejections = %+v, want indexes 1 and 4", rej.Rejections)
	}
	got := readAll(t, connect(t, dsn), DefaultTable)
	if len(got) != 4 {
		t.Errorf("%d rows, want the 4 good records", len(got))
	}
	for _, i := range []int{1, 4} {
		if _, ok := got[batch[i].ID()]; ok {
			t.Errorf("rejected record %d was stored", i)
		}
	}
}

func TestWriteIntoASchemaTable(t *testing.T) {
	_, dsn := createDB(t)
	exec(t, connect(t, dsn), "CREATE SCHEMA audit")
	p := newSink(t, pumps.Meta{"dsn": dsn, "table": "audit.Decisions"})
	if err := p.Write(context.Background(), testutil.Records(t, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, connect(t, dsn), `audit."Decisions"`); n != 10 {
		t.Errorf("%d rows, want 10", n)
	}
}

func TestInitFailsTransientlyWhenPostgresIsUnreachable(t *testing.T) {
	dsn := fmt.Sprintf("postgres://pump:unreachable-pw@127.0.0.1:%d/db?sslmode=disable", testutil.FreePort(t))
	p := New()
	if err := p.Configure(pumps.Meta{"dsn": dsn}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.Init(ctx)
	if err == nil {
		t.Fatal("Init against a dead port succeeded")
	}
	if pumps.IsPermanent(err) {
		t.Errorf("unreachable is transient, got permanent: %v", err)
	}
	if strings.Contains(err.Error(), "unreachable-pw") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestInitRefusesATableWithOtherColumns(t *testing.T) {
	tests := []struct{ name, ddl string }{
		{"missing a column", `CREATE TABLE t ("timestamp" bigint, username text, effect text, conclusion text,
			request text, policies text, deciders text, record_id text UNIQUE)`},
		{"record_id not unique", `CREATE TABLE t ("timestamp" bigint, username text, effect text, conclusion text,
			request text, policies text, deciders text, expire_at timestamptz, record_id text)`},
		{"timestamp of another type", `CREATE TABLE t ("timestamp" timestamptz, username text, effect text, conclusion text,
			request text, policies text, deciders text, expire_at timestamptz, record_id text UNIQUE)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dsn := createDB(t)
			exec(t, connect(t, dsn), tt.ddl)
			p := New()
			if err := p.Configure(pumps.Meta{"dsn": dsn, "table": "t"}); err != nil {
				t.Fatal(err)
			}
			err := p.Init(context.Background())
			if err == nil {
				_ = p.Close(context.Background())
				t.Fatal("Init accepted a table that does not fit")
			}
			if !pumps.IsPermanent(err) || !strings.Contains(err.Error(), `check table "t"`) {
				t.Errorf("Init = %v, want a permanent error about the table", err)
			}
		})
	}
}

func TestWriteErrorsThatRetryingCannotFixArePermanent(t *testing.T) {
	t.Run("a value the column cannot hold (class 22)", func(t *testing.T) {
		_, dsn := createDB(t)
		exec(t, connect(t, dsn), `CREATE TABLE t ("timestamp" bigint NOT NULL, username text NOT NULL,
			effect varchar(4) NOT NULL, conclusion text NOT NULL, request text NOT NULL, policies text NOT NULL,
			deciders text NOT NULL, expire_at timestamptz, record_id text NOT NULL UNIQUE)`)
		p := newSink(t, pumps.Meta{"dsn": dsn, "table": "t"})
		err := p.Write(context.Background(), testutil.Records(t, 0, 3)) // "allow" is 5 characters
		if !pumps.IsPermanent(err) || !strings.Contains(err.Error(), "22001") {
			t.Errorf("Write = %v, want permanent SQLSTATE 22001", err)
		}
		if n := count(t, connect(t, dsn), "t"); n != 0 {
			t.Errorf("%d rows after a failed batch, want 0 (one transaction)", n)
		}
	})
	t.Run("no privilege (class 42)", func(t *testing.T) {
		name, dsn := createDB(t)
		role := "pump_" + name[len("pump_test_"):]
		admin := connect(t, adminDSN)
		exec(t, admin, "CREATE ROLE "+role+" LOGIN")
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), adminDSN)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
				_ = c.Close(context.Background())
			}
		})
		owner := connect(t, dsn)
		exec(t, owner, "GRANT ALL ON SCHEMA public TO "+role)
		p := newSink(t, pumps.Meta{"dsn": strings.Replace(dsn, "postgres@", role+"@", 1), "table": "t"})
		exec(t, owner, "ALTER TABLE t OWNER TO postgres")
		exec(t, owner, "REVOKE ALL ON t FROM "+role)
		err := p.Write(context.Background(), testutil.Records(t, 0, 3))
		if !pumps.IsPermanent(err) || !strings.Contains(err.Error(), "42501") {
			t.Errorf("Write = %v, want permanent SQLSTATE 42501", err)
		}
	})
}

func TestWriteFailsTransientlyWhenTheConnectionIsCutAndRecovers(t *testing.T) {
	_, dsn := createDB(t)
	px := sinktest.StartProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(dsn, "127.0.0.1:5432", px.Addr, 1)
	p := newSink(t, pumps.Meta{"dsn": proxied})
	ctx := context.Background()
	if err := p.Write(ctx, testutil.Records(t, 0, 10)); err != nil {
		t.Fatal(err)
	}
	restore := px.Break(t)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := p.Write(wctx, testutil.Records(t, 10, 20))
	if err == nil {
		t.Fatal("Write through a cut connection succeeded")
	}
	if pumps.IsPermanent(err) {
		t.Errorf("a lost connection is transient, got permanent: %v", err)
	}
	restore() // the server is back on the same address
	testutil.Eventually(t, 20*time.Second, "a write once the server is back", func() bool {
		return p.Write(ctx, testutil.Records(t, 10, 20)) == nil
	})
	if n := count(t, connect(t, dsn), DefaultTable); n != 20 {
		t.Errorf("%d rows, want 20", n)
	}
}

func TestCloseIsSafeTwiceAndWithoutInit(t *testing.T) {
	if err := New().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, dsn := createDB(t)
	p := newSink(t, pumps.Meta{"dsn": dsn})
	for i := 0; i < 2; i++ {
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Write(context.Background(), testutil.Records(t, 0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func BenchmarkWrite(b *testing.B) {
	_, dsn := createDB(b)
	p := newSink(b, pumps.Meta{"dsn": dsn})
	batch := testutil.Records(b, 0, 1000)
	ctx := context.Background()
	iter := 0
	for b.Loop() {
		b.StopTimer()
		// New ids each round, so every row is inserted, not skipped.
		for i := range batch {
			batch[i].Raw = []byte(strconv.Itoa(iter) + "/" + strconv.Itoa(i))
		}
		iter++
		b.StartTimer()
		if err := p.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}
