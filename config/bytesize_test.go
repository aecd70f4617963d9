package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{in: "8388608", want: 8 << 20},
		{in: "0", want: 0},
		{in: "8MiB", want: 8 << 20},
		{in: "512KiB", want: 512 << 10},
		{in: "512kib", want: 512 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: "1.5MiB", want: 3 << 19},
		{in: "8 MiB", want: 8 << 20},
		{in: "8MB", want: 8_000_000},
		{in: "500kB", want: 500_000},
		{in: "100B", want: 100},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "8XB", bad: true},
		{in: "-1MiB", bad: true},
		{in: "lots", bad: true},
		{in: "1e30GiB", bad: true},
	}
	for _, c := range cases {
		got, err := ParseByteSize(c.in)
		switch {
		case c.bad && err == nil:
			t.Errorf("ParseByteSize(%q) = %d, want an error", c.in, got)
		case !c.bad && err != nil:
			t.Errorf("ParseByteSize(%q): %v", c.in, err)
		case !c.bad && got != c.want:
			t.Errorf("ParseByteSize(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for _, c := range []struct {
		in   ByteSize
		want string
	}{{8 << 20, "8MiB"}, {1536 << 10, "1536KiB"}, {1000, "1000"}, {0, "0"}, {2 << 30, "2GiB"}} {
		if got := c.in.String(); got != c.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(c.in), got, c.want)
		}
	}
}

func TestByteSizeKeysDefaultsAndSources(t *testing.T) {
	d := Default()
	if d.BatchMaxBytes != 8<<20 || d.MemoryLimit != 96<<20 {
		t.Fatalf("defaults: batch-max-bytes %v, memory-limit %v; want 8MiB, 96MiB", d.BatchMaxBytes, d.MemoryLimit)
	}
	path := filepath.Join(t.TempDir(), "pump.yaml")
	if err := os.WriteFile(path, []byte("batch-max-bytes: 512KiB\nmemory-limit: 200000000\npumps: {d: {type: dummy}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(Source{Path: path, LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchMaxBytes != 512<<10 || cfg.MemoryLimit != 200_000_000 {
		t.Errorf("from the file: %v, %v", cfg.BatchMaxBytes, cfg.MemoryLimit)
	}
	cfg, _, err = Load(Source{Path: path, LookupEnv: env(map[string]string{"IAM_PUMP_BATCH_MAX_BYTES": "2MiB", "IAM_PUMP_MEMORY_LIMIT": "0"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchMaxBytes != 2<<20 || cfg.MemoryLimit != 0 {
		t.Errorf("from the environment: %v, %v", cfg.BatchMaxBytes, cfg.MemoryLimit)
	}
	cfg = loadWithFlags(t, path, "--batch-max-bytes", "16MiB", "--memory-limit=1GiB")
	if cfg.BatchMaxBytes != 16<<20 || cfg.MemoryLimit != 1<<30 {
		t.Errorf("from the flags: %v, %v", cfg.BatchMaxBytes, cfg.MemoryLimit)
	}
}

func TestByteSizeErrorsNameTheKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"batch-max-bytes: lots", `batch-max-bytes: want a size such as 8MiB, 512KiB or a number of bytes, got "lots"`},
		{"batch-max-bytes: [1]", "batch-max-bytes: want a size"},
		{"batch-max-bytes: 100", "batch-max-bytes: must be between 1KiB and 1GiB, got 100"},
		{"batch-max-bytes: 2GiB", "batch-max-bytes: must be between 1KiB and 1GiB, got 2GiB"},
		{"read-ahead-bytes: 100", "read-ahead-bytes: must be at least 1KiB, got 100"},
		{"read-ahead-bytes: soon", "read-ahead-bytes: want a size"},
		{"memory-limit: -5MiB", "memory-limit: want a size"},
		{"memory-limit: 1MiB", "memory-limit: must be 0 (no limit) or at least 16MiB, got 1MiB"},
	}
	for _, c := range cases {
		_, err := Parse(c.yaml + "\npumps: {d: {type: dummy}}\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.yaml, err, c.want)
		}
	}
}
