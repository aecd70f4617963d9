package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may have: below 2.0 is what systemd calls OK.
const maxExposure = 2.0

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit cannot be checked here")
	}
	return path
}

// unitWithBinary copies the unit to a directory of its own with ExecStart
// naming the freshly built binary, since verify checks the executable
// exists.
func unitWithBinary(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("pump.service")
	if err != nil {
		t.Fatal(err)
	}
	const shipped = "ExecStart=/usr/local/bin/pump run -c /etc/pump/pump.yaml"
	if !strings.Contains(string(raw), shipped+"\n") {
		t.Fatalf("pump.service has no %q line", shipped)
	}
	text := strings.Replace(string(raw), "/usr/local/bin/pump", testutil.PumpBinary(t), 1)
	path := filepath.Join(t.TempDir(), "pump.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSystemdUnitVerifies(t *testing.T) {
	testutil.NeedsBinary(t)
	analyze := systemdAnalyze(t)
	out, err := exec.Command(analyze, "verify", unitWithBinary(t)).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdUnitExposureIsLow(t *testing.T) {
	analyze := systemdAnalyze(t)
	out, err := exec.Command(analyze, "security", "--offline=true", "pump.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=true: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for pump\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	exposure, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || exposure >= maxExposure {
		t.Errorf("exposure %s, want below %.1f:\n%s", m[1], maxExposure, out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", exposure)
}

// The unit's comments tell how a secret reaches the pump under a dynamic
// user: LoadCredential= and ${CREDENTIALS_DIRECTORY} in the file. That
// must work as written.
func TestCredentialsDirectoryReachesTheConfiguration(t *testing.T) {
	testutil.NeedsBinary(t)
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "admin-token"), []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := testutil.WriteConfig(t, testutil.FreePort(t), "  d: {type: dummy}\n",
		"server: {admin-auth: {type: bearer, token-file: ${CREDENTIALS_DIRECTORY}/admin-token}}\n")
	if code, out := testutil.RunPump(t, []string{"CREDENTIALS_DIRECTORY=" + creds}, "validate", "-c", d.ConfigPath); code != 0 {
		t.Errorf("validate with the credentials directory: exit %d\n%s", code, out)
	}
	code, out := testutil.RunPump(t, []string{"CREDENTIALS_DIRECTORY=" + t.TempDir()}, "validate", "-c", d.ConfigPath)
	if code != 2 || !strings.Contains(out, "server.admin-auth.token-file") {
		t.Errorf("validate without the credential: exit %d, want 2 naming server.admin-auth.token-file\n%s", code, out)
	}
}
