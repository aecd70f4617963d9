package testutil

import (
	"fmt"
	"strconv"
	"testing"
)

// Daemon is the address book of one pump under test.
type Daemon struct {
	ConfigPath string
	HealthAddr string
}

// HealthURL is the daemon's liveness URL.
func (d Daemon) HealthURL() string { return "http://" + d.HealthAddr + "/healthz" }

// ReadyURL is the daemon's readiness URL.
func (d Daemon) ReadyURL() string { return "http://" + d.HealthAddr + "/readyz" }

// WriteConfig writes a pump configuration for the redis-server at
// redisPort with the given pumps section (YAML, indented by two spaces
// under "pumps:") and extra top-level YAML, and picks a free health port.
func WriteConfig(t testing.TB, redisPort int, pumps, extra string) Daemon {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	text := fmt.Sprintf(`purge-delay: 1
health-check-path: healthz
health-check-address: %s
lease-ttl: 2s
redis:
  host: 127.0.0.1
  port: %d
log:
  level: info
  format: console
  output-paths: stderr
%s
pumps:
%s
`, addr, redisPort, extra, pumps)
	return Daemon{ConfigPath: WriteFile(t, "pump.yaml", text), HealthAddr: addr}
}
