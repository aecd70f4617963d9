// Package postgres is the postgres sink: it stores analytics records in a
// PostgreSQL table with typed columns, one COPY and one transaction per
// batch, skipping records the table already holds (by record id), so
// re-delivery after a crash stores nothing twice.
package postgres
