package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pumpd/pump/config"
)

// cmdHealth asks the local daemon's probe, for container HEALTHCHECKs.
func cmdHealth(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("health", pflag.ContinueOnError)
	path := config.AddConfigFlag(fs)
	config.AddKeyFlags(fs, "health-check-address", "health-check-path")
	ready := fs.Bool("ready", false, "ask /readyz instead of the liveness path")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if code, stop := parseFlags(fs, args, stderr); stop {
		return code
	}
	if !noArgs(fs, stderr) {
		return exitConfig
	}
	cfg, ok := loadConfig(fs, *path, stderr)
	if !ok {
		return exitConfig
	}
	host, port, _ := net.SplitHostPort(cfg.HealthCheckAddress)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	probe := "/" + strings.TrimLeft(cfg.HealthCheckPath, "/")
	if *ready {
		probe = "/readyz"
	}
	url := "http://" + net.JoinHostPort(host, port) + probe
	resp, err := (&http.Client{Timeout: *timeout}).Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "pump: %s: %v\n", url, err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%s: %s %s", url, resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return exitFailed
	}
	return exitOK
}
