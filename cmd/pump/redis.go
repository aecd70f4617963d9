package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/storage"
)

// redisOptions maps iam's redis keys onto the storage client's options;
// every command that connects to Redis goes through it.
func redisOptions(cfg config.Redis) (storage.Options, error) {
	addrs := []string(cfg.Addrs)
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}
	}
	opts := storage.Options{
		Addrs: addrs, Username: cfg.Username, Password: cfg.Password, DB: cfg.Database,
		MasterName: cfg.MasterName, Cluster: cfg.EnableCluster,
		MaxActiveConns: cfg.OptimisationMaxActive, MaxIdleConns: cfg.OptimisationMaxIdle,
		Timeout: time.Duration(cfg.Timeout) * time.Second,
	}
	if cfg.UseSSL {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.SSLInsecureSkipVerify} //nolint:gosec // the operator's explicit choice
		if cfg.SSLCAFile != "" {
			pem, err := os.ReadFile(cfg.SSLCAFile)
			if err != nil {
				return storage.Options{}, fmt.Errorf("redis.ssl-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return storage.Options{}, fmt.Errorf("redis.ssl-ca-file: %s holds no PEM certificate", cfg.SSLCAFile)
			}
			opts.TLS.RootCAs = pool
		}
	}
	return opts, nil
}

// newRedisClient is the storage client for cfg.
func newRedisClient(cfg config.Redis) (storage.Client, error) {
	opts, err := redisOptions(cfg)
	if err != nil {
		return nil, err
	}
	return storage.NewClient(opts)
}
