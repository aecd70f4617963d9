package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pumpd/pump/internal/redact"
)

// setupPostgres creates a fresh database on the PostgreSQL server named by
// -postgres (by default 127.0.0.1:5432, trust, user postgres), lets the
// sink create its table there, counts the rows, and drops the database.
func setupPostgres(e *env, _ int) (*target, error) {
	base, err := url.Parse(e.postgres)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("-postgres: want a postgres:// URL, got %q", redact.Text(e.postgres))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, e.postgres)
	if err != nil {
		return nil, skip("no PostgreSQL at -postgres (%s): %v", redact.Text(e.postgres), err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pumpbench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	var version string
	_ = admin.QueryRow(ctx, "SHOW server_version").Scan(&version)
	if f := strings.Fields(version); len(f) > 0 {
		version = f[0]
	}
	u := *base
	u.Path = "/" + name
	dsn := u.String()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, e.postgres)
		if err == nil {
			_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
		if err != nil {
			fmt.Printf("pumpbench: drop database %s: %v\n", name, err)
		}
	}
	return &target{
		meta:    fmt.Sprintf("{dsn: %q, table: iam_analytics}", dsn),
		server:  fmt.Sprintf("PostgreSQL %s on %s (a fresh database, dropped after)", version, base.Host),
		checked: "rows in the table",
		count: func(string) (int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return 0, err
			}
			defer c.Close(context.Background())
			var n int
			err = c.QueryRow(ctx, "SELECT count(*) FROM iam_analytics").Scan(&n)
			return n, err
		},
		limit: func(n int) (*limit, error) { return postgresLimit(dsn, n) },
		close: drop,
	}, nil
}

// postgresLimit reads the table the pump filled back with COPY TO (binary),
// empties it and times one COPY FROM of those bytes into it: the same rows
// into the same table, with its indexes, through the server's fastest
// path for loading.
func postgresLimit(dsn string, n int) (*limit, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	var rows bytes.Buffer
	if _, err := c.PgConn().CopyTo(ctx, &rows, "COPY iam_analytics TO STDOUT (FORMAT binary)"); err != nil {
		return nil, fmt.Errorf("copy the rows out: %w", err)
	}
	if _, err := c.Exec(ctx, "TRUNCATE iam_analytics"); err != nil {
		return nil, err
	}
	start := time.Now()
	tag, err := c.PgConn().CopyFrom(ctx, &rows, "COPY iam_analytics FROM STDIN (FORMAT binary)")
	took := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("copy the rows in: %w", err)
	}
	if tag.RowsAffected() != int64(n) {
		return nil, fmt.Errorf("COPY FROM loaded %d rows, want %d", tag.RowsAffected(), n)
	}
	return &limit{records: n, took: took, how: fmt.Sprintf("COPY FROM STDIN (binary) of the table's own rows (read back with COPY TO) into the emptied table, one statement of %s rows", thousands(n))}, nil
}
