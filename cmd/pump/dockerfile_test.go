//go:build linux

package main_test

// No Docker engine runs here, so this is as far as the Dockerfile can be
// checked without one: its build stage's commands run for real on a copy
// of the build context that honours .dockerignore, the binary they make must
// be static and carry the version passed as a build argument, and the
// runtime stage must fit together (the binary, the configuration and the
// health check it names, the port, a non-root user).

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

func parseDockerfile(t *testing.T, file string) (stages [][]instruction) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if line == "" && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line += cont + " "
			continue
		}
		line += text
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		line = ""
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// execForm decodes a JSON-array instruction argument, such as CMD's.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var args []string
	if err := yaml.Unmarshal([]byte(in.args), &args); err != nil || !strings.HasPrefix(in.args, "[") {
		t.Fatalf("%s %s: want the exec form, a JSON array (no shell in the image): %v", in.cmd, in.args, err)
	}
	return args
}

// ignored reports whether .dockerignore leaves rel out of the build
// context. It knows the two pattern forms the file uses; any other form
// fails the test rather than being guessed at.
func ignoredBy(t *testing.T, patterns []string, rel string) bool {
	t.Helper()
	for _, p := range patterns {
		if strings.ContainsAny(p, "!") || strings.Contains(strings.TrimPrefix(p, "**/"), "**") {
			t.Fatalf(".dockerignore pattern %q: this test does not know that form; teach it", p)
		}
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			// At any depth: the file itself or any directory on its path.
			parts := strings.Split(rel, "/")
			for i := range parts {
				if m, _ := path.Match(rest, parts[i]); m {
					return true
				}
			}
			continue
		}
		for dir := rel; dir != "."; dir = path.Dir(dir) {
			if m, _ := path.Match(p, dir); m {
				return true
			}
		}
	}
	return false
}

// copyContext copies the module root to dst as `docker build .` would send
// it: without what .dockerignore excludes.
func copyContext(t *testing.T, root, dst string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatalf("no .dockerignore: the whole tree, .git included, would go to the daemon: %v", err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignoredBy(t, patterns, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, mustGo := range []string{"go.mod", "go.sum", "cmd/pump", "configs/container.yaml"} {
		if _, err := os.Stat(filepath.Join(dst, mustGo)); err != nil {
			t.Fatalf(".dockerignore leaves %s out of the build context", mustGo)
		}
	}
	for _, mustNot := range []string{".git", "bin"} {
		if _, err := os.Stat(filepath.Join(dst, mustNot)); err == nil {
			t.Errorf(".dockerignore lets %s into the build context", mustNot)
		}
	}
}

func TestDockerfileBuildsAStaticImageThatFitsTogether(t *testing.T) {
	testutil.NeedsBinary(t)
	root := testutil.ModuleRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}

	// The build stage, run here: WORKDIR is the copied context, absolute
	// output paths go below the test's directory, ARGs get test values.
	work := t.TempDir()
	src, outDir := filepath.Join(work, "src"), filepath.Join(work, "out")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	copyContext(t, root, src)
	// TARGETOS and TARGETARCH as BuildKit sets them, for this machine so the
	// binary runs here; below, go build must take them as GOOS and GOARCH.
	args := map[string]string{"VERSION": "9.8.7-test", "COMMIT": "abc1234", "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
	builtTo := map[string]string{} // absolute path in the build stage → here
	argRef := regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)
	for _, in := range stages[0] {
		switch in.cmd {
		case "FROM", "WORKDIR", "ARG":
		case "COPY":
			for _, f := range strings.Fields(in.args)[:len(strings.Fields(in.args))-1] {
				if _, err := os.Stat(filepath.Join(src, f)); err != nil {
					t.Fatalf("COPY %s: not in the build context", f)
				}
			}
		case "RUN":
			script := argRef.ReplaceAllStringFunc(in.args, func(ref string) string {
				m := argRef.FindStringSubmatch(ref)
				return args[m[1]+m[2]]
			})
			script = regexp.MustCompile(`(^|\s)/out/`).ReplaceAllStringFunc(script, func(s string) string {
				return strings.Replace(s, "/out/", outDir+"/", 1)
			})
			for _, m := range regexp.MustCompile(`-o (/out/\S+)`).FindAllStringSubmatch(in.args, -1) {
				builtTo[m[1]] = filepath.Join(outDir, strings.TrimPrefix(m[1], "/out/"))
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-ec", script)
			cmd.Dir = src
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("RUN %s: %v\n%s", script, err, out)
			}
		default:
			t.Fatalf("build stage: %s is not emulated by this test; teach it", in.cmd)
		}
	}

	// The runtime stage: what it copies and runs must be what was built.
	final := map[string][]instruction{}
	for _, in := range stages[1] {
		final[in.cmd] = append(final[in.cmd], in)
	}
	if from := final["FROM"][0].args; !strings.Contains(from, "distroless/static") || !strings.HasSuffix(from, ":nonroot") {
		t.Errorf("runtime base %q: want distroless static, nonroot", from)
	}
	if len(final["USER"]) != 1 || strings.HasPrefix(final["USER"][0].args, "root") || strings.HasPrefix(final["USER"][0].args, "0") {
		t.Errorf("USER %v: want one non-root user", final["USER"])
	}
	inImage := map[string]string{} // path in the image → file here
	for _, in := range final["COPY"] {
		f := strings.Fields(in.args)
		if strings.HasPrefix(f[0], "--from=") {
			built, ok := builtTo[f[1]]
			if !ok {
				t.Fatalf("COPY %s: the build stage made no such file", in.args)
			}
			inImage[f[2]] = built
		} else {
			inImage[f[1]] = filepath.Join(src, f[0])
		}
	}
	entry := execForm(t, final["ENTRYPOINT"][0])
	bin, ok := inImage[entry[0]]
	if !ok {
		t.Fatalf("ENTRYPOINT %s: not copied into the image", entry[0])
	}
	cmdArgs := execForm(t, final["CMD"][0])
	configInImage := cmdArgs[len(cmdArgs)-1]
	config, ok := inImage[configInImage]
	if !ok || cmdArgs[0] != "run" {
		t.Fatalf("CMD %v: want run -c <a configuration copied into the image>", cmdArgs)
	}

	// Static: no program interpreter, so it runs on distroless/static.
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not a static binary (CGO_ENABLED=0 missing?)", entry[0])
		}
	}
	ef.Close()
	for _, v := range []string{"GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}"} {
		if !slices.ContainsFunc(stages[0], func(in instruction) bool { return in.cmd == "RUN" && strings.Contains(in.args, v) }) {
			t.Errorf("the build stage's go build does not take %s: a cross-platform build would make the builder's binary", v)
		}
	}
	// OCI labels, the version and revision from the build arguments.
	labels := map[string]string{}
	for _, in := range final["LABEL"] {
		for _, m := range regexp.MustCompile(`(\S+?)=("[^"]*"|\S+)`).FindAllStringSubmatch(in.args, -1) {
			labels[m[1]] = strings.Trim(m[2], `"`)
		}
	}
	for key, want := range map[string]string{
		"org.opencontainers.image.title": "pump", "org.opencontainers.image.source": "https://github.com/pumpd/pump",
		"org.opencontainers.image.licenses": "Apache-2.0", "org.opencontainers.image.version": "${VERSION}",
		"org.opencontainers.image.revision": "${COMMIT}",
	} {
		if labels[key] != want {
			t.Errorf("LABEL %s=%q, want %q", key, labels[key], want)
		}
	}
	if labels["org.opencontainers.image.description"] == "" {
		t.Errorf("no LABEL org.opencontainers.image.description")
	}
	for _, arg := range []string{"VERSION", "COMMIT"} {
		if !slices.ContainsFunc(final["ARG"], func(in instruction) bool { return strings.HasPrefix(in.args, arg) }) {
			t.Errorf("the runtime stage does not declare ARG %s: its label would be empty", arg)
		}
	}
	run := func(env []string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = append([]string{"PATH=/nonexistent"}, env...)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := run(nil, "version"); err != nil || !strings.Contains(out, "pump 9.8.7-test (abc1234)") {
		t.Errorf("pump version = %q, %v; want the build arguments VERSION and COMMIT in it", out, err)
	}
	// The image's configuration is valid with no environment at all (every
	// ${VAR} has a default) and names the port the image exposes.
	if out, err := run(nil, "validate", "-c", config); err != nil {
		t.Fatalf("pump validate -c %s: %v\n%s", configInImage, err, out)
	}
	raw, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Address string `yaml:"health-check-address"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(cfg.Address)
	if err != nil || len(final["EXPOSE"]) != 1 || final["EXPOSE"][0].args != port {
		t.Errorf("EXPOSE %v, want the health-check-address port %q of %s", final["EXPOSE"], port, configInImage)
	}
	// The health check runs the binary itself (no shell or curl in the image).
	hc := final["HEALTHCHECK"]
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %d", len(hc))
	}
	_, probe, _ := strings.Cut(hc[0].args, "CMD ")
	want := fmt.Sprintf(`["%s", "health", "-c", "%s"]`, entry[0], configInImage)
	if strings.TrimSpace(probe) != want {
		t.Errorf("HEALTHCHECK CMD %s, want %s", probe, want)
	}
	if len(final["STOPSIGNAL"]) != 1 || final["STOPSIGNAL"][0].args != "SIGTERM" {
		t.Errorf("STOPSIGNAL %v: want SIGTERM, the signal that starts the graceful stop", final["STOPSIGNAL"])
	}
}
