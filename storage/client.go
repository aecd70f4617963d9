package storage

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/go-redis/redis/v8"

	"github.com/pumpd/pump/config"
)

// NewClient returns a client for the topology cfg describes: a cluster with
// enable-cluster, sentinel with master-name, else one server.
func NewClient(cfg config.Redis) (redis.UniversalClient, error) {
	addrs := []string(cfg.Addrs)
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}
	}
	timeout := time.Duration(cfg.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var tlsConfig *tls.Config
	if cfg.UseSSL {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.SSLInsecureSkipVerify} //nolint:gosec // the operator's explicit choice
		if cfg.SSLCAFile != "" {
			pem, err := os.ReadFile(cfg.SSLCAFile)
			if err != nil {
				return nil, fmt.Errorf("redis: read ssl-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis: ssl-ca-file %s holds no PEM certificate", cfg.SSLCAFile)
			}
			tlsConfig.RootCAs = pool
		}
	}
	poolSize := cfg.OptimisationMaxActive
	switch {
	case cfg.EnableCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: addrs, Username: cfg.Username, Password: cfg.Password,
			PoolSize: poolSize, MinIdleConns: cfg.OptimisationMaxIdle,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: tlsConfig,
		}), nil
	case cfg.MasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: cfg.MasterName, SentinelAddrs: addrs,
			Username: cfg.Username, Password: cfg.Password, DB: cfg.Database,
			PoolSize: poolSize, MinIdleConns: cfg.OptimisationMaxIdle,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: tlsConfig,
		}), nil
	default:
		return redis.NewClient(&redis.Options{
			Addr: addrs[0], Username: cfg.Username, Password: cfg.Password, DB: cfg.Database,
			PoolSize: poolSize, MinIdleConns: cfg.OptimisationMaxIdle,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: tlsConfig,
		}), nil
	}
}
