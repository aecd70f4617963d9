//go:build linux

package main

// No secret of any sink, of Redis or of the admin authentication appears
// in what the pump prints: `pump validate --print`, every log line of a
// real run whose sinks fail (so their errors are logged), /metrics and
// /status.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/redact"
	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestNoSecretInLogsValidatePrintMetricsOrStatus(t *testing.T) {
	testutil.NeedsBinary(t)
	// Each secret is distinct, so a leak says where it came from.
	secrets := map[string]string{
		"redis.password":                       "Redis-pw-7a1e",
		"admin token (env)":                    "Admin-token-5c2b",
		"mongo_url password":                   "Mongo-pw-91fd",
		"mongo_url query value":                "Mongo-app-q-33aa",
		"kafka sasl_password":                  "Kafka-sasl-pw-0be4",
		"postgres dsn password=":               "Pg-dsn-pw-62c7",
		"http url password":                    "Http-url-pw-4d10",
		"http url token=":                      "Http-q-token-8e21",
		"http url sig=":                        "Http-q-sig-19b3",
		"http header Authorization":            "Http-hdr-bearer-c4d5",
		"http header X-Api-Key":                "Http-hdr-apikey-77e0",
		"http header X-Anything":               "Http-hdr-other-a9f2",
		"http auth_token_env value":            "Http-env-token-3f6a",
		"elasticsearch url password (first)":   "Es-url-pw-one-5a5a",
		"elasticsearch url password (second)":  "Es-url-pw-two-6b6b",
		"elasticsearch auth_basic_password":    "Es-basic-pw-2c8d",
		"elasticsearch api_key":                "Es-api-key-0f0f",
		"influx address password":              "Influx-url-pw-1e2e",
		"influx password":                      "Influx-pw-4b4b",
		"syslog tls_key_file content (a line)": "",
	}
	r := testutil.StartRedis(t, testutil.RedisOptions{Password: secrets["redis.password"]})
	tlsFiles := testutil.WriteTLSFiles(t)
	keyPEM, err := os.ReadFile(tlsFiles.Key)
	if err != nil {
		t.Fatal(err)
	}
	secrets["syslog tls_key_file content (a line)"] = strings.Split(string(keyPEM), "\n")[1]

	// A collector that refuses every batch and echoes what it was sent, as
	// careless servers do: the http sink's error must not repeat it.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		http.Error(w, fmt.Sprintf("refused %s from %s:%s with %q %q %q", r.URL, user, pass,
			r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), r.Header.Get("X-Anything")), http.StatusServiceUnavailable)
	}))
	defer echo.Close()
	echoHost := strings.TrimPrefix(echo.URL, "http://")
	dead := func() int { return testutil.FreePort(t) } // nothing listens there

	healthAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	text := fmt.Sprintf(`purge-delay: 1
health-check-address: %[1]s
lease-ttl: 2s
redis: {host: 127.0.0.1, port: %[2]d, password: %[3]q}
log: {level: debug, format: console, output-paths: stderr}
server:
  admin-auth: {type: bearer, token-env: PUMP_ADMIN_TOKEN}
pumps:
  mongo:
    type: mongo
    max-retry-time: 1s
    meta:
      mongo_url: "mongodb://iam:%[4]s@127.0.0.1:%[5]d/iam?appName=%[6]s&serverSelectionTimeoutMS=1500&connectTimeoutMS=1500"
      collection_name: iam_analytics
  kafka:
    type: kafka
    max-retry-time: 1s
    meta: {broker: ["127.0.0.1:%[7]d"], topic: iam, timeout: 2, sasl_mechanism: SCRAM-SHA-512, sasl_username: pump, sasl_password: %[8]q}
  postgres:
    type: postgres
    max-retry-time: 1s
    meta: {dsn: "host=127.0.0.1 port=%[9]d user=pump password=%[10]s dbname=iam connect_timeout=2"}
  http:
    type: http
    max-retry-time: 1s
    meta:
      url: "http://pump:%[11]s@%[12]s/in?token=%[13]s&sig=%[14]s"
      headers: {Authorization: "Bearer %[15]s", X-Api-Key: %[16]q, X-Anything: %[17]q}
      max_retries: 0
  http-env:
    type: http
    max-retry-time: 1s
    meta: {url: "http://%[12]s/env", auth_token_env: PUMP_HTTP_TOKEN, max_retries: 0}
  es-basic:
    type: elasticsearch
    max-retry-time: 1s
    meta:
      elasticsearch_url: "http://es:%[18]s@127.0.0.1:%[19]d,http://es:%[20]s@127.0.0.1:%[21]d"
      max_retries: 0
  es-basic-key:
    type: elasticsearch
    max-retry-time: 1s
    meta: {elasticsearch_url: "http://127.0.0.1:%[19]d", auth_basic_username: es, auth_basic_password: %[22]q, max_retries: 0}
  es-api-key:
    type: elasticsearch
    max-retry-time: 1s
    meta: {elasticsearch_url: "http://127.0.0.1:%[19]d", api_key: %[23]q, max_retries: 0}
  influx:
    type: influx
    max-retry-time: 1s
    meta: {address: "http://inf:%[24]s@127.0.0.1:%[25]d", database_name: iam, username: inf, password: %[26]q}
  syslog:
    type: syslog
    max-retry-time: 1s
    meta: {transport: tls, network_addr: "127.0.0.1:%[27]d", tls_ca_file: %[28]q, tls_cert_file: %[29]q, tls_key_file: %[30]q}
`, healthAddr, r.Port, secrets["redis.password"],
		secrets["mongo_url password"], dead(), secrets["mongo_url query value"],
		dead(), secrets["kafka sasl_password"],
		dead(), secrets["postgres dsn password="],
		secrets["http url password"], echoHost, secrets["http url token="], secrets["http url sig="],
		secrets["http header Authorization"], secrets["http header X-Api-Key"], secrets["http header X-Anything"],
		secrets["elasticsearch url password (first)"], dead(), secrets["elasticsearch url password (second)"], dead(),
		secrets["elasticsearch auth_basic_password"], secrets["elasticsearch api_key"],
		secrets["influx address password"], dead(), secrets["influx password"],
		dead(), tlsFiles.CA, tlsFiles.Cert, tlsFiles.Key)
	path := testutil.WriteFile(t, "pump.yaml", text)
	env := []string{"PUMP_ADMIN_TOKEN=" + secrets["admin token (env)"], "PUMP_HTTP_TOKEN=" + secrets["http auth_token_env value"]}

	leaks := func(what, out string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the %s (%q)", what, name, s)
			}
		}
	}

	code, out := testutil.RunPump(t, env, "validate", "--print", "-c", path)
	if code != 0 || !strings.Contains(out, redact.Mask) {
		t.Fatalf("pump validate --print: exit %d, want 0 and a redacted configuration:\n%s", code, out)
	}
	leaks("pump validate --print", out)

	p := testutil.StartPump(t, env, "run", "-c", path)
	testutil.Eventually(t, 2*time.Minute, "the pump ready", func() bool {
		if p.Exited() {
			t.Fatalf("the pump exited:\n%s", p.Output())
		}
		return testutil.HTTPStatus("http://"+healthAddr+"/readyz") == 200
	})
	// Records for every sink to fail on, so each one's errors are logged,
	// until every failing pump has parked some.
	testutil.Seed(t, r.Client(), analytics.DefaultKey, 0, 10)
	get := func(path string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+healthAddr+path, nil)
		req.Header.Set("Authorization", "Bearer "+secrets["admin token (env)"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	failing := []string{"mongo", "kafka", "postgres", "http", "http-env", "es-basic", "es-basic-key", "es-api-key", "influx", "syslog"}
	testutil.Eventually(t, 3*time.Minute, "every pump parked records", func() bool {
		m := get("/metrics")
		for _, name := range failing {
			if !strings.Contains(m, `pump_records_parked_total{pump="`+name+`"} 10`) {
				return false
			}
		}
		return true
	})
	leaks("/metrics", get("/metrics"))
	leaks("/status", get("/status"))
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	out = p.Output()
	for _, want := range []string{"starting", "pump could not start", "parking its records", "503 Service Unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run never logged %q, so its secrets were not put to the test:\n%s", want, out)
		}
	}
	leaks("the daemon's log", out)
}
