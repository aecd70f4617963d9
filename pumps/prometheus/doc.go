// Package prometheus is the prometheus sink: it counts authorization
// decisions per result and user in iam's metric,
// iam_user_authorization_status_total, with a bounded number of usernames.
// The sink is a prometheus.Collector, served on the daemon's /metrics.
package prometheus
