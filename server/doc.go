// Package server is the daemon's HTTP side: the liveness and readiness
// probes, /metrics, and the registry of middlewares that the configuration
// names in server.middlewares.
package server
