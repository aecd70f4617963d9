package testutil

import (
	"fmt"
	"strings"
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
	return WriteRedisConfig(t, fmt.Sprintf("  host: 127.0.0.1\n  port: %d", redisPort), pumps, extra)
}

// ValidateRejects runs `pump validate` on a configuration whose pumps
// section is pumpsYAML and fails the test unless the command exits 2 and
// says want.
func ValidateRejects(t testing.TB, pumpsYAML, want string) {
	t.Helper()
	d := WriteConfig(t, FreePort(t), pumpsYAML, "")
	code, out := RunPump(t, nil, "validate", "-c", d.ConfigPath)
	if code != 2 || !strings.Contains(out, want) {
		t.Fatalf("pump validate: exit %d, want 2 and %q in:\n%s", code, want, out)
	}
}
