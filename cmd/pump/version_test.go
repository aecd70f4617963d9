//go:build linux

package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestBuildVersionPrefersLdflagsThenTheToolchainsRecord(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "16d8efc9a63f5b8274537f70165c1a8ea353338f"
	for _, c := range []struct {
		name                 string
		ldVersion, ldCommit  string
		bi                   *debug.BuildInfo
		wantVersion, wantRev string
	}{
		{"make build: the ldflags win", "v1.2.0-3-gabc1234", "abc1234", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs(rev, "false")},
			"v1.2.0-3-gabc1234", "abc1234"},
		{"go install ...@v1.4.0: the module version, no revision", "dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			"v1.4.0", ""},
		{"go build in a clean checkout", "dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201211811-16d8efc9a63f"}, Settings: vcs(rev, "false")},
			"v0.0.0-20261201211811-16d8efc9a63f", "16d8efc9a63f"},
		{"go build with changes", "dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201211811-16d8efc9a63f+dirty"}, Settings: vcs(rev, "true")},
			"v0.0.0-20261201211811-16d8efc9a63f+dirty", "16d8efc9a63f-dirty"},
		{"go build without VCS information", "dev", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"dev", ""},
		{"no build information", "dev", "", nil, "dev", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, r := buildVersion(c.ldVersion, c.ldCommit, c.bi)
			if v != c.wantVersion || r != c.wantRev {
				t.Errorf("buildVersion = %q, %q; want %q, %q", v, r, c.wantVersion, c.wantRev)
			}
		})
	}
}

func TestVersionFlagsAndCommandAgree(t *testing.T) {
	want := versionString() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		code, stdout, stderr := runCaptured(args...)
		if code != 0 || stdout != want || stderr != "" {
			t.Errorf("pump %v: exit %d, stdout %q, stderr %q; want 0 and %q", args, code, stdout, stderr, want)
		}
	}
}

// moduleZip writes the module at root as the module proxy would serve
// version: every file of the module, none of a nested module's.
func moduleZip(t *testing.T, root, version, dst string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := "github.com/pumpd/pump@" + version + "/"
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil || d.Name() == ".git" || rel == "bin" || rel == "demo-out" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || d.Name() == ".git" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// `go install github.com/pumpd/pump/cmd/pump@vX` must say vX: the module
// is served at that version from a file proxy built from this tree, and
// installed as an operator would.
func TestGoInstallAtAVersionReportsThatVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary with go install")
	}
	// A version of its own per run, so runs at once never share one.
	v := fmt.Sprintf("v1.2.3-test.%d", time.Now().UnixNano())
	root := testutil.ModuleRoot(t)
	proxy := t.TempDir()
	dir := filepath.Join(proxy, "github.com", "pumpd", "pump", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"list":      v + "\n",
		v + ".info": `{"Version":"` + v + `","Time":"2026-01-01T00:00:00Z"}`,
		v + ".mod":  string(mod),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moduleZip(t, root, v, filepath.Join(dir, v+".zip"))

	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "github.com/pumpd/pump/cmd/pump@"+v)
	cmd.Dir = t.TempDir() // outside any module, as an operator runs it
	// This module from the file proxy, the dependencies from the usual
	// module cache, whose packages are compiled already. No checksum
	// database here: the dependencies were checked when downloaded.
	cache := goEnv(t, "GOMODCACHE")
	t.Cleanup(func() {
		_ = os.RemoveAll(filepath.Join(cache, "github.com", "pumpd", "pump@"+v))
		for _, name := range []string{v + ".info", v + ".mod", v + ".zip", v + ".ziphash", v + ".lock", "list"} {
			_ = os.Remove(filepath.Join(cache, "cache", "download", "github.com", "pumpd", "pump", "@v", name))
		}
	})
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin,
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",off",
		"GOSUMDB=off", "GOFLAGS=-modcacherw")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(gobin, "pump"), "version").CombinedOutput()
	if want := "pump " + v + " " + runtime.Version() + "\n"; err != nil || string(out) != want {
		t.Errorf("pump version = %q, %v; want %q", out, err, want)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
