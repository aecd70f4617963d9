package storage

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is a connection to Redis in any topology.
type Client = redis.UniversalClient

// Options say how to reach the Redis that holds the analytics list.
type Options struct {
	// Addrs is the server (its first entry), the sentinels (with
	// MasterName) or the cluster's seed nodes (with Cluster).
	Addrs    []string
	Username string
	Password string
	DB       int
	// MasterName, when set, finds the master through the sentinels.
	MasterName string
	// Cluster treats Addrs as the seed nodes of a Redis Cluster.
	Cluster bool
	// TLS, when set, is the TLS client configuration of every connection.
	TLS *tls.Config
	// MaxActiveConns caps the connections open at once (0: go-redis's
	// default pool of 10 per CPU) and MaxIdleConns those kept idle (0: no
	// cap). Both are caps: the pool dials a connection only when no idle
	// one is free, so the client opens one per concurrent caller.
	MaxActiveConns int
	MaxIdleConns   int
	// Timeout bounds each dial, read and write (0: 5 seconds).
	Timeout time.Duration
}

// resp2 is the protocol the pump speaks, as iam's servers and go-redis v8
// did, which every Redis answers: RESP3 would bring push notifications and
// a client-side cache, of no use to a drain.
const resp2 = 2

// NewClient returns a client for the topology opts describe: a cluster with
// Cluster, sentinel with MasterName, else one server.
func NewClient(opts Options) (Client, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	switch {
	case opts.Cluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: opts.Addrs, Username: opts.Username, Password: opts.Password,
			PoolSize: opts.MaxActiveConns, MaxActiveConns: opts.MaxActiveConns, MaxIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS, Protocol: resp2,
		}), nil
	case opts.MasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: opts.MasterName, SentinelAddrs: opts.Addrs,
			Username: opts.Username, Password: opts.Password, DB: opts.DB,
			PoolSize: opts.MaxActiveConns, MaxActiveConns: opts.MaxActiveConns, MaxIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS, Protocol: resp2,
		}), nil
	default:
		return redis.NewClient(&redis.Options{
			Addr: opts.Addrs[0], Username: opts.Username, Password: opts.Password, DB: opts.DB,
			PoolSize: opts.MaxActiveConns, MaxActiveConns: opts.MaxActiveConns, MaxIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS, Protocol: resp2,
		}), nil
	}
}
