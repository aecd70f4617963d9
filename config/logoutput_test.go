package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	_ "github.com/pumpd/pump/pumps/stdout"
)

func TestAStdoutPumpMovesTheDefaultLogToStderr(t *testing.T) {
	for _, c := range []struct {
		name, file string
		env        map[string]string
		flags      []string
		want       string
	}{
		{"stdout pump, log output not chosen", "pumps: {out: {type: stdout}}\n", nil, nil, "stderr"},
		{"stdout pump, other log keys set", "pumps: {out: {type: stdout}}\nlog: {level: debug}\n", nil, nil, "stderr"},
		{"no stdout pump", "pumps: {d: {type: dummy}}\n", nil, nil, "stdout"},
		{"stdout chosen in the file", "pumps: {out: {type: stdout}}\nlog: {output-paths: stdout}\n", nil, nil, "stdout"},
		{"a file chosen in the file", "pumps: {out: {type: stdout}}\nlog: {output-paths: [/var/log/pump.log]}\n", nil, nil, "/var/log/pump.log"},
		{"stdout chosen by the environment", "pumps: {out: {type: stdout}}\n", map[string]string{"IAM_PUMP_LOG_OUTPUT_PATHS": "stdout"}, nil, "stdout"},
		{"stdout chosen by a flag", "pumps: {out: {type: stdout}}\n", nil, []string{"--log.output-paths=stdout"}, "stdout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pump.yaml")
			if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			AddFlags(fs)
			if err := fs.Parse(c.flags); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Load(Source{Path: path, Flags: fs, LookupEnv: env(c.env)})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Log.OutputPaths, ","); got != c.want {
				t.Errorf("log.output-paths = %s, want %s", got, c.want)
			}
		})
	}
}
