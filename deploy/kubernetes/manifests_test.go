package kubernetes_test

// No Kubernetes runs here, so these tests are the manifests' validation:
// every file parses, the kinds are the ones a cluster knows, the pieces
// refer to each other correctly, and the pump configuration in the
// ConfigMap passes the real binary's `pump validate` with exactly the
// environment the Deployment gives the container.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/internal/testing/testutil"
)

// The parts of the Kubernetes objects the tests look at.
type (
	object struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   metadata          `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`       // ConfigMap
		StringData map[string]string `yaml:"stringData"` // Secret
		Spec       yaml.Node         `yaml:"spec"`
		Resources  []string          `yaml:"resources"` // Kustomization
		file       string
	}
	metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	deploymentSpec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata metadata `yaml:"metadata"`
			Spec     podSpec  `yaml:"spec"`
		} `yaml:"template"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               securityContext `yaml:"securityContext"`
		Containers                    []container     `yaml:"containers"`
		Volumes                       []volume        `yaml:"volumes"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	container struct {
		Name           string          `yaml:"name"`
		Image          string          `yaml:"image"`
		Command        []string        `yaml:"command"`
		Args           []string        `yaml:"args"`
		Env            []envVar        `yaml:"env"`
		Ports          []containerPort `yaml:"ports"`
		StartupProbe   *probe          `yaml:"startupProbe"`
		LivenessProbe  *probe          `yaml:"livenessProbe"`
		ReadinessProbe *probe          `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext securityContext `yaml:"securityContext"`
		VolumeMounts    []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	containerPort struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}
	envVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *keyRef `yaml:"secretKeyRef"`
			FieldRef     *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	}
	keyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
		TCPSocket *struct {
			Port any `yaml:"port"`
		} `yaml:"tcpSocket"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	}
	volume struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir              any `yaml:"emptyDir"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
	serviceSpec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	}
)

// knownKinds are the apiVersion and kind pairs the example may use.
var knownKinds = map[string]string{
	"ConfigMap":             "v1",
	"PersistentVolumeClaim": "v1",
	"Secret":                "v1",
	"Service":               "v1",
	"Deployment":            "apps/v1",
	"PodDisruptionBudget":   "policy/v1",
	"ServiceMonitor":        "monitoring.coreos.com/v1",
	"Kustomization":         "kustomize.config.k8s.io/v1beta1",
}

// kindCount is how many objects of a kind the example has when not one.
var kindCount = map[string]int{"Kustomization": 2} // the example, and monitoring/ on top of it

// loadManifests parses every YAML document of every .yaml file here and in
// the directories below.
func loadManifests(t *testing.T) []*object {
	t.Helper()
	top, err := filepath.Glob("*.yaml")
	if err != nil || len(top) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	below, err := filepath.Glob("*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := append(top, below...)
	var objs []*object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: not valid YAML: %v", f, i+1, err)
			}
			if o.Kind == "" && o.APIVersion == "" {
				continue // an empty document between ---
			}
			o.file = f
			objs = append(objs, &o)
		}
	}
	return objs
}

func find(t *testing.T, objs []*object, kind, name string) *object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && (name == "" || o.Metadata.Name == name) {
			return o
		}
	}
	t.Fatalf("no %s %q among the manifests", kind, name)
	return nil
}

func decodeSpec[T any](t *testing.T, o *object) T {
	t.Helper()
	var spec T
	if err := o.Spec.Decode(&spec); err != nil {
		t.Fatalf("%s %s (%s): spec: %v", o.Kind, o.Metadata.Name, o.file, err)
	}
	return spec
}

func (p podSpec) container(t *testing.T, name string) container {
	t.Helper()
	for _, c := range p.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("the pod has no container %q", name)
	return container{}
}

// port resolves a probe's or service's port, a number or a port name.
func (c container) port(t *testing.T, p any) int {
	t.Helper()
	switch v := p.(type) {
	case int:
		return v
	case string:
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort
			}
		}
		t.Fatalf("container %s has no port named %q", c.Name, v)
	}
	t.Fatalf("container %s: port %v is neither a number nor a name", c.Name, p)
	return 0
}

func TestKubernetesManifestsParseWithKnownKinds(t *testing.T) {
	objs := loadManifests(t)
	seen := map[string]int{}
	for _, o := range objs {
		want, ok := knownKinds[o.Kind]
		if !ok {
			t.Errorf("%s: kind %q is not one the example should use", o.file, o.Kind)
			continue
		}
		if o.APIVersion != want {
			t.Errorf("%s: %s has apiVersion %q, want %q", o.file, o.Kind, o.APIVersion, want)
		}
		if o.Kind != "Kustomization" && o.Metadata.Name == "" {
			t.Errorf("%s: %s without metadata.name", o.file, o.Kind)
		}
		seen[o.Kind]++
	}
	for kind := range knownKinds {
		want := 1
		if n, ok := kindCount[kind]; ok {
			want = n
		}
		if seen[kind] != want {
			t.Errorf("%d %s objects, want %d", seen[kind], kind, want)
		}
	}
}

// Each kustomization lists every manifest of its directory; the one below
// builds on the example (..).
func TestKubernetesKustomizationListsEveryManifest(t *testing.T) {
	objs := loadManifests(t)
	for _, k := range objs {
		if k.Kind != "Kustomization" {
			continue
		}
		dir := path.Dir(k.file)
		var want []string
		if dir != "." {
			want = append(want, "..")
		}
		for _, o := range objs {
			if o.Kind != "Kustomization" && path.Dir(o.file) == dir && !slices.Contains(want, path.Base(o.file)) {
				want = append(want, path.Base(o.file))
			}
		}
		got := slices.Clone(k.Resources)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: resources %v, want the manifests %v", k.file, got, want)
		}
	}
}

// pumpSetup is what the sidecar pod gives the pump: its container, the
// configuration file the ConfigMap mounts where its args say, and the
// environment the Deployment builds from the Secret and the downward API.
type pumpSetup struct {
	pod       podSpec
	pump      container
	redis     container
	configYML string
	env       []string
}

func sidecar(t *testing.T) pumpSetup {
	t.Helper()
	objs := loadManifests(t)
	dep := decodeSpec[deploymentSpec](t, find(t, objs, "Deployment", ""))
	s := pumpSetup{pod: dep.Template.Spec}
	s.pump = s.pod.container(t, "pump")
	s.redis = s.pod.container(t, "redis")

	// -c PATH in the pump's args, PATH inside a ConfigMap volume's mount.
	i := slices.Index(s.pump.Args, "-c")
	if i < 0 || i+1 >= len(s.pump.Args) {
		t.Fatalf("the pump's args %v do not name the configuration with -c", s.pump.Args)
	}
	cfgPath := s.pump.Args[i+1]
	var cmName string
	for _, m := range s.pump.VolumeMounts {
		if path.Dir(cfgPath) != path.Clean(m.MountPath) {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("the configuration volume is mounted writable")
		}
		for _, v := range s.pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cmName = v.ConfigMap.Name
			}
		}
	}
	if cmName == "" {
		t.Fatalf("no ConfigMap volume is mounted at %s", path.Dir(cfgPath))
	}
	cm := find(t, objs, "ConfigMap", cmName)
	text, ok := cm.Data[path.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cmName, path.Base(cfgPath))
	}
	s.configYML = text
	s.env = containerEnv(t, objs, s.pump)
	return s
}

// containerEnv is the environment Kubernetes would give c.
func containerEnv(t *testing.T, objs []*object, c container) []string {
	t.Helper()
	var env []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			secret := find(t, objs, "Secret", ref.Name)
			v, ok := secret.StringData[ref.Key]
			if !ok {
				t.Fatalf("container %s: env %s refers to key %q that Secret %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom.FieldRef != nil:
			env = append(env, e.Name+"=example-pod-0") // what the downward API would put there
		default:
			t.Fatalf("container %s: env %s has a source this test does not know", c.Name, e.Name)
		}
	}
	return env
}

func envNames(env []string) []string {
	var names []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	return names
}

// effectiveConfig runs `pump validate --print` on the ConfigMap's file with
// the container's environment and returns the configuration it printed.
func (s pumpSetup) effectiveConfig(t *testing.T) map[string]any {
	t.Helper()
	file := testutil.WriteFile(t, "pump.yaml", s.configYML)
	code, out := testutil.RunPump(t, s.env, "validate", "--print", "-c", file)
	if code != 0 {
		t.Fatalf("pump validate of the ConfigMap's pump.yaml: exit %d\n%s", code, out)
	}
	// The verdict line and any "note:" lines come before the YAML.
	_, printed, _ := strings.Cut(out, "\n")
	for strings.HasPrefix(printed, "note: ") {
		_, printed, _ = strings.Cut(printed, "\n")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(printed), &cfg); err != nil {
		t.Fatalf("pump validate --print: %v\n%s", err, out)
	}
	return cfg
}

func TestKubernetesPumpConfigPassesValidateWithThePodsEnvironment(t *testing.T) {
	testutil.NeedsBinary(t)
	s := sidecar(t)
	// Every ${VAR} of the file must come from the container: an unset one
	// silently becomes "" (a Redis without password, say).
	names := envNames(s.env)
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(s.configYML, -1) {
		if !slices.Contains(names, m[1]) {
			t.Errorf("pump.yaml uses ${%s} but the pump container's env has only %v", m[1], names)
		}
	}
	cfg := s.effectiveConfig(t)
	if got := cfg["instance-id"]; got != "example-pod-0" {
		t.Errorf("instance-id = %v, want the pod name from the downward API", got)
	}
	redis := cfg["redis"].(map[string]any)
	if redis["password"] != "<redacted>" {
		t.Errorf("redis.password = %v: the Secret's password did not reach the configuration", redis["password"])
	}
	auth := cfg["server"].(map[string]any)["admin-auth"].(map[string]any)
	if auth["type"] != "bearer" {
		t.Errorf("server.admin-auth.type = %v: /metrics would be open to the cluster", auth["type"])
	}
	// Without the Secret's values the same file is refused, naming the key.
	file := testutil.WriteFile(t, "pump.yaml", s.configYML)
	code, out := testutil.RunPump(t, []string{"PUMP_ADMIN_TOKEN="}, "validate", "-c", file)
	if code != 2 || !strings.Contains(out, "server.admin-auth.token-env") {
		t.Errorf("validate with an empty admin token: exit %d, want 2 naming server.admin-auth.token-env\n%s", code, out)
	}
}

func TestKubernetesProbesMatchThePumpConfig(t *testing.T) {
	testutil.NeedsBinary(t)
	s := sidecar(t)
	cfg := s.effectiveConfig(t)
	_, portText, err := net.SplitHostPort(cfg["health-check-address"].(string))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	healthPath := "/" + strings.TrimLeft(cfg["health-check-path"].(string), "/")

	for _, c := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"livenessProbe", s.pump.LivenessProbe, healthPath},
		{"readinessProbe", s.pump.ReadinessProbe, "/readyz"},
		{"startupProbe", s.pump.StartupProbe, healthPath},
	} {
		if c.probe == nil || c.probe.HTTPGet == nil {
			t.Errorf("the pump container has no HTTP %s", c.name)
			continue
		}
		if c.probe.HTTPGet.Path != c.path {
			t.Errorf("%s path %q, want %q", c.name, c.probe.HTTPGet.Path, c.path)
		}
		if got := s.pump.port(t, c.probe.HTTPGet.Port); got != port {
			t.Errorf("%s port %d, but the pump listens on %d (health-check-address)", c.name, got, port)
		}
	}
	if s.pump.StartupProbe != nil && s.pump.StartupProbe.PeriodSeconds*s.pump.StartupProbe.FailureThreshold < 30 {
		t.Errorf("the startup probe gives the pump less than 30s to start")
	}

	// The pump talks to the Redis of the same pod.
	redis := cfg["redis"].(map[string]any)
	if redis["host"] != "127.0.0.1" && redis["host"] != "localhost" {
		t.Errorf("redis.host = %v, want the pod's own Redis on loopback", redis["host"])
	}
	listens := func(p containerPort) bool { return p.ContainerPort == redis["port"] }
	if !slices.ContainsFunc(s.redis.Ports, listens) || !slices.Contains(s.redis.Args, fmt.Sprint(redis["port"])) {
		t.Errorf("redis.port = %v, but the Redis container listens on %v (args %v)", redis["port"], s.redis.Ports, s.redis.Args)
	}
}

func TestKubernetesGracePeriodOutlastsShutdownTimeout(t *testing.T) {
	testutil.NeedsBinary(t)
	s := sidecar(t)
	cfg := s.effectiveConfig(t)
	shutdown, err := time.ParseDuration(cfg["shutdown-timeout"].(string))
	if err != nil {
		t.Fatal(err)
	}
	grace := s.pod.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatalf("terminationGracePeriodSeconds is not set (the default 30s does not outlast a 30s shutdown-timeout)")
	}
	// A few seconds of margin: the kubelet's clock starts before SIGTERM
	// reaches the process.
	if time.Duration(*grace)*time.Second < shutdown+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %d is not above shutdown-timeout %v by 5s or more", *grace, shutdown)
	}
}

func TestKubernetesRedisPasswordIsTheOneThePumpUses(t *testing.T) {
	objs := loadManifests(t)
	s := sidecar(t)
	redisEnv := containerEnv(t, objs, s.redis)
	var want string
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "REDIS_PASSWORD="); ok {
			want = v
		}
	}
	for _, name := range []string{"REDIS_PASSWORD", "REDISCLI_AUTH"} {
		if want == "" || !slices.Contains(redisEnv, name+"="+want) {
			t.Errorf("the Redis container's env %v does not carry the pump's REDIS_PASSWORD as %s", envNames(redisEnv), name)
		}
	}
	// Not on any command line: ps and /proc show those to the whole pod.
	for _, c := range s.pod.Containers {
		line := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
		if strings.Contains(line, "$(REDIS_PASSWORD)") || strings.Contains(line, want) || slices.Contains(c.Args, "--requirepass") {
			t.Errorf("container %s puts the password on its command line: %s", c.Name, line)
		}
	}
}

// redisArg is the value after name among the Redis container's args.
func redisArg(c container, name string) string {
	i := slices.Index(c.Args, name)
	if i < 0 || i+1 >= len(c.Args) {
		return ""
	}
	return c.Args[i+1]
}

// The Redis container's command, run here as the kubelet would (its port
// and directory moved to the test's): it must require the Secret's password,
// keep it off its command line, be the process itself (so SIGTERM reaches
// it), and run with the memory policy the manifest asks for.
func TestKubernetesRedisCommandRunsWithThePasswordFromItsEnvironment(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (make test installs it): %v", err)
	}
	objs := loadManifests(t)
	s := sidecar(t)
	env := containerEnv(t, objs, s.redis)
	var password string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "REDIS_PASSWORD="); ok {
			password = v
		}
	}
	port := testutil.FreePort(t)
	args := slices.Clone(s.redis.Args)
	args[slices.Index(args, "--port")+1] = strconv.Itoa(port)
	args[slices.Index(args, "--dir")+1] = t.TempDir()
	args = append(args, "--bind", "127.0.0.1")
	argv := append(slices.Clone(s.redis.Command), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("redis output:\n%s", log.String())
		}
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	authed := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	defer authed.Close()
	testutil.Eventually(t, 30*time.Second, "redis answers with the password", func() bool {
		return authed.Ping(context.Background()).Err() == nil
	})
	anonymous := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer anonymous.Close()
	if err := anonymous.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without the password: %v, want NOAUTH", err)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
	if strings.TrimSpace(string(comm)) != "redis-server" {
		t.Errorf("the container's main process is %q, not redis-server: SIGTERM would not reach Redis", comm)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
	if err != nil || bytes.Contains(cmdline, []byte(password)) {
		t.Errorf("redis's command line %q (%v) shows the password", cmdline, err)
	}
	for key, want := range map[string]string{
		"maxmemory-policy": "noeviction",
		"maxmemory":        strconv.FormatInt(redisBytes(t, redisArg(s.redis, "--maxmemory")), 10),
		"appendonly":       "yes",
	} {
		got, err := authed.ConfigGet(context.Background(), key).Result() // v9: a map of name to value
		if err != nil || len(got) != 1 || got[key] != want {
			t.Errorf("CONFIG GET %s = %v, %v; want %s", key, got, err, want)
		}
	}
}

// redisBytes reads a Redis memory size: 400mb, 1gb, 100000 (bytes).
func redisBytes(t *testing.T, v string) int64 {
	t.Helper()
	units := []struct {
		suffix string
		n      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(strings.ToLower(v), u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				t.Fatalf("Redis size %q: %v", v, err)
			}
			return n * u.n
		}
	}
	t.Fatalf("Redis size %q", v)
	return 0
}

// kubeBytes reads a Kubernetes quantity (or GOMEMLIMIT): 512Mi, 1Gi, 200MiB.
func kubeBytes(t *testing.T, v string) int64 {
	t.Helper()
	v = strings.TrimSuffix(v, "B") // GOMEMLIMIT writes MiB
	for suffix, n := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1000, "M": 1000 * 1000, "G": 1000 * 1000 * 1000} {
		if num, ok := strings.CutSuffix(v, suffix); ok {
			x, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", v, err)
			}
			return x * n
		}
	}
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", v, err)
	}
	return x
}

// Redis holds the backlog in memory: past its container's limit the kernel
// kills it, and an eviction policy would drop waiting records silently.
func TestKubernetesRedisMemoryStaysBelowItsLimitWithoutEviction(t *testing.T) {
	s := sidecar(t)
	if p := redisArg(s.redis, "--maxmemory-policy"); p != "noeviction" {
		t.Errorf("redis --maxmemory-policy %q, want noeviction: another policy deletes records waiting to be drained", p)
	}
	limit := kubeBytes(t, s.redis.Resources.Limits["memory"])
	maxmemory := redisBytes(t, redisArg(s.redis, "--maxmemory"))
	// The rest is for the append-only file's rewrite, buffers and Redis itself.
	if maxmemory <= 0 || maxmemory > limit*8/10 {
		t.Errorf("redis --maxmemory %d bytes, container limit %d: want at most 80%% of the limit", maxmemory, limit)
	}
}

// The pump's memory: GOMEMLIMIT below its container's limit, and a cap on
// the lists it writes to Redis.
func TestKubernetesPumpMemoryIsBounded(t *testing.T) {
	testutil.NeedsBinary(t)
	s := sidecar(t)
	limit := kubeBytes(t, s.pump.Resources.Limits["memory"])
	var goMemLimit string
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "GOMEMLIMIT="); ok {
			goMemLimit = v
		}
	}
	if goMemLimit == "" {
		t.Fatalf("the pump container sets no GOMEMLIMIT")
	}
	if soft := kubeBytes(t, goMemLimit); soft >= limit || soft < limit/2 {
		t.Errorf("GOMEMLIMIT %s against a %s limit: want it below the limit (and above half of it)", goMemLimit, s.pump.Resources.Limits["memory"])
	}
	cfg := s.effectiveConfig(t)
	if n, _ := cfg["dead-letter-max-len"].(int); n <= 0 {
		t.Errorf("dead-letter-max-len = %v: the dead and parked lists could grow until Redis is full", cfg["dead-letter-max-len"])
	}
}

// strictSpec decodes o's spec into T refusing any field T lacks, so a
// misspelt field of a kind this test knows is an error, not ignored.
func strictSpec[T any](t *testing.T, o *object) T {
	t.Helper()
	raw, err := yaml.Marshal(&o.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var spec T
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("%s %s (%s): spec: %v", o.Kind, o.Metadata.Name, o.file, err)
	}
	return spec
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

func (s labelSelector) matches(labels map[string]string) bool {
	if len(s.MatchLabels) == 0 {
		return false // an empty selector would select everything
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesDisruptionBudgetCoversThePod(t *testing.T) {
	objs := loadManifests(t)
	dep := decodeSpec[deploymentSpec](t, find(t, objs, "Deployment", ""))
	pdb := strictSpec[struct {
		MinAvailable               any           `yaml:"minAvailable"` // a number or a percentage
		MaxUnavailable             any           `yaml:"maxUnavailable"`
		UnhealthyPodEvictionPolicy string        `yaml:"unhealthyPodEvictionPolicy"`
		Selector                   labelSelector `yaml:"selector"`
	}](t, find(t, objs, "PodDisruptionBudget", ""))
	if !pdb.Selector.matches(dep.Template.Metadata.Labels) {
		t.Errorf("the PodDisruptionBudget selects %v, the pods are labelled %v", pdb.Selector.MatchLabels, dep.Template.Metadata.Labels)
	}
	if (pdb.MinAvailable == nil) == (pdb.MaxUnavailable == nil) {
		t.Errorf("set one of minAvailable and maxUnavailable")
	}
	// A pod that is not ready must not block a node drain.
	if pdb.UnhealthyPodEvictionPolicy != "AlwaysAllow" {
		t.Errorf("unhealthyPodEvictionPolicy %q, want AlwaysAllow", pdb.UnhealthyPodEvictionPolicy)
	}
}

func TestKubernetesServiceMonitorScrapesMetricsWithTheToken(t *testing.T) {
	testutil.NeedsBinary(t)
	objs := loadManifests(t)
	type secretRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	}
	sm := strictSpec[struct {
		Selector          labelSelector `yaml:"selector"`
		NamespaceSelector any           `yaml:"namespaceSelector"`
		Endpoints         []struct {
			Port          string `yaml:"port"`
			Path          string `yaml:"path"`
			Interval      string `yaml:"interval"`
			ScrapeTimeout string `yaml:"scrapeTimeout"`
			Authorization *struct {
				Type        string    `yaml:"type"`
				Credentials secretRef `yaml:"credentials"`
			} `yaml:"authorization"`
		} `yaml:"endpoints"`
	}](t, find(t, objs, "ServiceMonitor", ""))
	svcObj := find(t, objs, "Service", "")
	if !sm.Selector.matches(svcObj.Metadata.Labels) {
		t.Errorf("the ServiceMonitor selects %v, the Service is labelled %v", sm.Selector.MatchLabels, svcObj.Metadata.Labels)
	}
	svc := decodeSpec[serviceSpec](t, svcObj)
	s := sidecar(t)
	cfg := s.effectiveConfig(t)
	if len(sm.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want the pump's one", len(sm.Endpoints))
	}
	e := sm.Endpoints[0]
	var target any
	for _, p := range svc.Ports {
		if p.Name == e.Port {
			target = p.TargetPort
		}
	}
	_, portText, _ := net.SplitHostPort(cfg["health-check-address"].(string))
	if target == nil || strconv.Itoa(s.pump.port(t, target)) != portText {
		t.Errorf("endpoint port %q reaches %v, but the pump serves /metrics on %s", e.Port, target, portText)
	}
	if e.Path != "/metrics" {
		t.Errorf("endpoint path %q, want /metrics", e.Path)
	}
	interval, err1 := time.ParseDuration(e.Interval)
	timeout, err2 := time.ParseDuration(e.ScrapeTimeout)
	if err1 != nil || err2 != nil || timeout > interval {
		t.Errorf("interval %q, scrapeTimeout %q: want durations, the timeout within the interval", e.Interval, e.ScrapeTimeout)
	}
	// /metrics needs the admin token: the one the pump reads.
	if e.Authorization == nil || e.Authorization.Type != "Bearer" {
		t.Fatalf("the endpoint sends no bearer token; the pump's /metrics wants one (server.admin-auth)")
	}
	ref := e.Authorization.Credentials
	secret := find(t, objs, "Secret", ref.Name)
	tokenEnv := cfg["server"].(map[string]any)["admin-auth"].(map[string]any)["token-env"]
	for _, ev := range s.pump.Env {
		if ev.Name == tokenEnv && (ev.ValueFrom == nil || ev.ValueFrom.SecretKeyRef == nil || *ev.ValueFrom.SecretKeyRef != keyRef(ref)) {
			t.Errorf("the ServiceMonitor sends %s/%s, the pump reads its token from %+v", ref.Name, ref.Key, ev.ValueFrom)
		}
	}
	if _, ok := secret.StringData[ref.Key]; !ok {
		t.Errorf("Secret %s has no key %s", ref.Name, ref.Key)
	}
}

func TestKubernetesContainersRunLockedDown(t *testing.T) {
	s := sidecar(t)
	podNonRoot := s.pod.SecurityContext.RunAsNonRoot != nil && *s.pod.SecurityContext.RunAsNonRoot
	if u := s.pod.SecurityContext.RunAsUser; u != nil && *u == 0 {
		t.Errorf("the pod runs as root")
	}
	for _, c := range s.pod.Containers {
		t.Run(c.Name, func(t *testing.T) {
			sc := c.SecurityContext
			if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
				t.Errorf("not runAsNonRoot")
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("root file system not read-only")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("privilege escalation not forbidden")
			}
			if !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("capabilities not dropped: %v", sc.Capabilities.Drop)
			}
			for _, r := range []string{"cpu", "memory"} {
				if c.Resources.Requests[r] == "" {
					t.Errorf("no %s request", r)
				}
			}
			if c.Resources.Limits["memory"] == "" {
				t.Errorf("no memory limit")
			}
			if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
				t.Errorf("image %q is not pinned to a tag", c.Image)
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("missing liveness or readiness probe")
			}
		})
	}
}

func TestKubernetesServiceSelectsThePodAndItsNamedPorts(t *testing.T) {
	objs := loadManifests(t)
	dep := decodeSpec[deploymentSpec](t, find(t, objs, "Deployment", ""))
	labels := dep.Template.Metadata.Labels
	for k, v := range dep.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pod template's labels %v", k, v, labels)
		}
	}
	svc := decodeSpec[serviceSpec](t, find(t, objs, "Service", ""))
	for k, v := range svc.Selector {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%s, the pods are labelled %v", k, v, labels)
		}
	}
	ports := map[string]bool{}
	for _, c := range dep.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = true
			ports[strconv.Itoa(p.ContainerPort)] = true
		}
	}
	for _, p := range svc.Ports {
		if !ports[fmt.Sprint(p.TargetPort)] {
			t.Errorf("Service port %s targets %v, which no container declares", p.Name, p.TargetPort)
		}
	}
}

// The records waiting in Redis must outlive the pod: the append-only file on
// a claimed volume, mounted by one pod at a time.
func TestKubernetesRedisKeepsItsRecordsOnAPersistentVolume(t *testing.T) {
	objs := loadManifests(t)
	dep := decodeSpec[deploymentSpec](t, find(t, objs, "Deployment", ""))
	redis := dep.Template.Spec.container(t, "redis")
	arg := func(name string) string {
		i := slices.Index(redis.Args, name)
		if i < 0 || i+1 >= len(redis.Args) {
			return ""
		}
		return redis.Args[i+1]
	}
	if arg("--appendonly") != "yes" {
		t.Errorf("redis args %v: want --appendonly yes", redis.Args)
	}
	dir := arg("--dir")
	var volume string
	for _, m := range redis.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) && !m.ReadOnly {
			volume = m.Name
		}
	}
	if dir == "" || volume == "" {
		t.Fatalf("redis --dir %q is not a writable volume mount", dir)
	}
	var claim string
	for _, v := range dep.Template.Spec.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim == "" {
		t.Fatalf("volume %q holding Redis's files is not a PersistentVolumeClaim: deleting the pod would lose the backlog", volume)
	}
	pvc := find(t, objs, "PersistentVolumeClaim", claim)
	var spec struct {
		AccessModes []string `yaml:"accessModes"`
		Resources   struct {
			Requests map[string]string `yaml:"requests"`
		} `yaml:"resources"`
	}
	if err := pvc.Spec.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spec.AccessModes, []string{"ReadWriteOnce"}) || spec.Resources.Requests["storage"] == "" {
		t.Errorf("claim %s: access modes %v, storage %q; want ReadWriteOnce and a size", claim, spec.AccessModes, spec.Resources.Requests["storage"])
	}
	// A rolling update would start a second Redis on the same file (or
	// wait forever for a ReadWriteOnce volume on another node).
	if dep.Strategy.Type != "Recreate" || dep.Replicas == nil || *dep.Replicas != 1 {
		t.Errorf("strategy %q with %v replicas: want Recreate and 1", dep.Strategy.Type, dep.Replicas)
	}
}
