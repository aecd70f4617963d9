package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis/v8"
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
	// MaxActiveConns and MaxIdleConns bound the connection pool.
	MaxActiveConns int
	MaxIdleConns   int
	// Timeout bounds each dial, read and write (0: 5 seconds).
	Timeout time.Duration
}

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
	poolSize := opts.MaxActiveConns
	switch {
	case opts.Cluster:
		c := &redis.ClusterOptions{
			Addrs: opts.Addrs, Username: opts.Username, Password: opts.Password,
			PoolSize: poolSize, MinIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS,
			NewClient: newClusterNode,
		}
		c.ClusterSlots = (&slotsLoader{seeds: opts.Addrs, node: redis.Options{
			Username: opts.Username, Password: opts.Password,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS, PoolSize: 1, MaxRetries: -1,
		}}).load
		return redis.NewClusterClient(c), nil
	case opts.MasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: opts.MasterName, SentinelAddrs: opts.Addrs,
			Username: opts.Username, Password: opts.Password, DB: opts.DB,
			PoolSize: poolSize, MinIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS,
		}), nil
	default:
		return redis.NewClient(&redis.Options{
			Addr: opts.Addrs[0], Username: opts.Username, Password: opts.Password, DB: opts.DB,
			PoolSize: poolSize, MinIdleConns: opts.MaxIdleConns,
			DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
			TLSConfig: opts.TLS,
		}), nil
	}
}

// go-redis v8 reads the cluster's topology (CLUSTER SLOTS) and its command
// table (COMMAND) with parsers written before Redis 7, which added a fourth
// element to every node of CLUSTER SLOTS and three to every command of
// COMMAND. Against Redis 7 the first failure leaves a cluster client with no
// slot map at all (every command fails), the second with no key positions
// (every keyed command goes to a random node, fetches COMMAND again and
// follows a MOVED). v8 has no release that fixes either, so the cluster
// client reads both replies itself, as plain arrays, which any version of
// Redis answers.

// slotsLoader answers CLUSTER SLOTS for the cluster client, asking the seed
// nodes and the nodes it learnt of last time, in turn, until one answers.
// Each load is one short-lived connection; go-redis reloads at start, after
// a redirect and at most every ten seconds while busy.
type slotsLoader struct {
	seeds []string
	node  redis.Options

	mu    sync.Mutex
	known []string
}

func (l *slotsLoader) load(ctx context.Context) ([]redis.ClusterSlot, error) {
	l.mu.Lock()
	candidates := append(append([]string{}, l.seeds...), l.known...)
	l.mu.Unlock()
	var errs []error
	seen := map[string]bool{}
	for _, addr := range candidates {
		if seen[addr] {
			continue
		}
		seen[addr] = true
		slots, err := l.ask(ctx, addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var known []string
		for _, s := range slots {
			for _, n := range s.Nodes {
				known = append(known, n.Addr)
			}
		}
		l.mu.Lock()
		l.known = known
		l.mu.Unlock()
		return slots, nil
	}
	return nil, fmt.Errorf("redis: cluster slots: %w", errors.Join(errs...))
}

func (l *slotsLoader) ask(ctx context.Context, addr string) ([]redis.ClusterSlot, error) {
	opt := l.node
	opt.Addr = addr
	c := redis.NewClient(&opt)
	defer c.Close()
	reply, err := c.Do(ctx, "cluster", "slots").Slice()
	if err != nil {
		return nil, err
	}
	return parseClusterSlots(reply, addr)
}

// parseClusterSlots reads a CLUSTER SLOTS reply: per range its first and
// last slot, then its master and replicas, each at least an endpoint and a
// port (then, ignored, the node id and since Redis 7 its metadata). An
// empty endpoint means the host the reply came from; a loopback address
// reported through an address that is not loopback is that address too, as
// go-redis itself does.
func parseClusterSlots(reply []any, origin string) ([]redis.ClusterSlot, error) {
	originHost, _, _ := net.SplitHostPort(origin)
	originIP := net.ParseIP(originHost)
	replaceLoopback := originIP != nil && !originIP.IsLoopback()
	slots := make([]redis.ClusterSlot, 0, len(reply))
	for i, r := range reply {
		entry, ok := r.([]any)
		if !ok || len(entry) < 3 {
			return nil, fmt.Errorf("slot range %d: %v is not [start end master ...]", i, r)
		}
		start, ok1 := entry[0].(int64)
		end, ok2 := entry[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("slot range %d: bounds %v %v are not integers", i, entry[0], entry[1])
		}
		slot := redis.ClusterSlot{Start: int(start), End: int(end)}
		for _, n := range entry[2:] {
			node, ok := n.([]any)
			if !ok || len(node) < 2 {
				return nil, fmt.Errorf("slot range %d: node %v is not [endpoint port ...]", i, n)
			}
			host, _ := node[0].(string)
			port, ok := node[1].(int64)
			if !ok {
				return nil, fmt.Errorf("slot range %d: node port %v is not an integer", i, node[1])
			}
			if ip := net.ParseIP(host); host == "" || replaceLoopback && ip != nil && ip.IsLoopback() {
				host = originHost
			}
			cn := redis.ClusterNode{Addr: net.JoinHostPort(host, strconv.FormatInt(port, 10))}
			if len(node) > 2 {
				cn.ID, _ = node[2].(string)
			}
			slot.Nodes = append(slot.Nodes, cn)
		}
		slots = append(slots, slot)
	}
	return slots, nil
}

// newClusterNode is the client of one cluster node; it reads the command
// table itself when go-redis cannot.
func newClusterNode(opt *redis.Options) *redis.Client {
	c := redis.NewClient(opt)
	c.AddHook(commandTableHook{c})
	return c
}

// commandTableHook replaces a COMMAND reply go-redis failed to parse
// (Redis 7's) by the same table read as plain arrays.
type commandTableHook struct{ client *redis.Client }

func (commandTableHook) BeforeProcess(ctx context.Context, _ redis.Cmder) (context.Context, error) {
	return ctx, nil
}

func (h commandTableHook) AfterProcess(ctx context.Context, cmd redis.Cmder) error {
	info, ok := cmd.(*redis.CommandsInfoCmd)
	if !ok || info.Err() == nil || !strings.Contains(info.Err().Error(), "elements in COMMAND reply") {
		return nil
	}
	reply, err := h.client.Do(ctx, "command").Slice()
	if err != nil {
		return nil // the first error stands
	}
	table, err := parseCommandTable(reply)
	if err != nil {
		return nil
	}
	info.SetVal(table)
	info.SetErr(nil)
	return nil
}

func (commandTableHook) BeforeProcessPipeline(ctx context.Context, _ []redis.Cmder) (context.Context, error) {
	return ctx, nil
}

func (commandTableHook) AfterProcessPipeline(context.Context, []redis.Cmder) error { return nil }

// parseCommandTable reads a COMMAND reply: per command its name, arity,
// flags and key positions (first, last, step), then since Redis 6 its ACL
// categories; what Redis 7 added after them is ignored.
func parseCommandTable(reply []any) (map[string]*redis.CommandInfo, error) {
	table := make(map[string]*redis.CommandInfo, len(reply))
	for i, r := range reply {
		entry, ok := r.([]any)
		if !ok || len(entry) < 6 {
			return nil, fmt.Errorf("command %d: %v is not [name arity flags first last step ...]", i, r)
		}
		name, ok0 := entry[0].(string)
		arity, ok1 := entry[1].(int64)
		first, ok2 := entry[3].(int64)
		last, ok3 := entry[4].(int64)
		step, ok4 := entry[5].(int64)
		if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, fmt.Errorf("command %d: %v is not [name arity flags first last step ...]", i, r)
		}
		ci := &redis.CommandInfo{
			Name: strings.ToLower(name), Arity: int8(arity),
			FirstKeyPos: int8(first), LastKeyPos: int8(last), StepCount: int8(step),
			Flags: strs(entry[2]),
		}
		ci.ReadOnly = slices.Contains(ci.Flags, "readonly")
		if len(entry) > 6 {
			ci.ACLFlags = strs(entry[6])
		}
		table[ci.Name] = ci
	}
	return table, nil
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
