// Package prometheus holds the pump's alerting rules (alerts.yml) and their
// promtool unit tests; its Go test runs promtool on them and checks every
// metric they use against a real daemon's /metrics.
package prometheus
