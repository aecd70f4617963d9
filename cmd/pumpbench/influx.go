package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// setupInflux starts a real influxd (InfluxDB 1.x, Debian's influxdb
// package) on free loopback ports with its data in the work directory, as
// the influx sink's tests do, creates the database, and counts the points.
func setupInflux(e *env, _ int) (*target, error) {
	bin, err := exec.LookPath("influxd")
	if err != nil {
		return nil, skip("influxd (InfluxDB 1.x) is not installed; make test-deps installs Debian's influxdb package")
	}
	dir := filepath.Join(e.work, "influxd")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[coordinator]
  write-timeout = "10m"
[monitor]
  store-enabled = false
[http]
  bind-address = %q
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpAddr)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(e.work, "influxd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "-config", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"HOME=" + dir} // no INFLUXDB_* settings from the environment
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start influxd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	base := "http://" + httpAddr
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("influxd did not answer /ping within 30s; see " + logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	version := ""
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 2 {
			version = " " + strings.TrimPrefix(f[1], "v")
		}
	}
	if _, err := influxQuery(base, "", "CREATE DATABASE pumpbench"); err != nil {
		stop()
		return nil, err
	}
	return &target{
		meta:   influxMeta(base),
		server: "influxd" + version + " (Debian's InfluxDB 1.x), own process",
		// A point is keyed by series and time: the sink gives each record
		// a distinct time, so the points are the records.
		checked: "points in the measurement (count of the timestamp field)",
		count: func(string) (int, error) {
			v, err := influxQuery(base, "pumpbench", `SELECT count("timestamp") FROM "analytics"`)
			if err != nil {
				return 0, err
			}
			if len(v) < 2 {
				return 0, nil // no series yet
			}
			var n int
			err = json.Unmarshal(v[1], &n)
			return n, err
		},
		limit: func(n int) (*limit, error) { return influxLimit(base, n) },
		close: stop,
	}, nil
}

func influxMeta(address string) string {
	return fmt.Sprintf("{address: %q, database_name: pumpbench, tags: [username, effect]}", address)
}

// influxLimit makes the influx sink write the n records to a capturing
// server in this process, and times one POST of all that line protocol
// (with the sink's query parameters) to influxd, into a second database
// of the same server.
func influxLimit(base string, n int) (*limit, error) {
	var got requestLog
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Influxdb-Version", "1.6.7")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		if err := got.keep(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	addr, stop, err := serveHTTP(mux)
	if err != nil {
		return nil, err
	}
	err = sinkWrites("influx", influxMeta("http://"+addr), n)
	stop()
	if err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(got.query)
	if err != nil {
		return nil, err
	}
	q.Set("db", "pumpbench_limit")
	if _, err := influxQuery(base, "", "CREATE DATABASE pumpbench_limit"); err != nil {
		return nil, err
	}
	body := bytes.Join(got.bodies, nil)
	start := time.Now()
	resp, err := http.Post(base+"/write?"+q.Encode(), "text/plain", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("influxd /write: %s: %.300s", resp.Status, answer)
	}
	v, err := influxQuery(base, "pumpbench_limit", `SELECT count("timestamp") FROM "analytics"`)
	var points int
	if err == nil && len(v) >= 2 {
		err = json.Unmarshal(v[1], &points)
	}
	if err != nil || points != n {
		return nil, fmt.Errorf("the limit's database holds %d points, want %d (%v)", points, n, err)
	}
	return &limit{records: n, took: took, how: fmt.Sprintf("one POST /write of the %s lines (%.0f MB) the sink makes of the same records, into a second database", thousands(n), float64(len(body))/1e6)}, nil
}

// influxQuery runs one InfluxQL statement and returns the first row of its
// first series (nil when there is none).
func influxQuery(base, db, q string) ([]json.RawMessage, error) {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	resp, err := http.PostForm(base+"/query", form)
	if err != nil {
		return nil, fmt.Errorf("influxd %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Series []struct {
				Values [][]json.RawMessage `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Error != "" || len(out.Results) == 0 || out.Results[0].Error != "" {
		return nil, fmt.Errorf("influxd %q: %s %v: %.300s", q, resp.Status, err, body)
	}
	r := out.Results[0]
	if len(r.Series) == 0 || len(r.Series[0].Values) == 0 {
		return nil, nil
	}
	return r.Series[0].Values[0], nil
}
