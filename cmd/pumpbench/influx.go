package main

import (
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
[monitor]
  store-enabled = false
[http]
  bind-address = %q
  log-enabled = false
  pprof-enabled = false
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
		meta:   fmt.Sprintf("{address: %q, database_name: pumpbench, tags: [username, effect]}", base),
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
		close: stop,
	}, nil
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
