// Package grafana holds the pump's Grafana dashboard (pump.json); its test
// evaluates the dashboard's backlog queries with promtool over several
// instances.
package grafana
