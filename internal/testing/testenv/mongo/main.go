// Command ferretdb-test runs an embedded FerretDB (a MongoDB wire-protocol
// server on SQLite) for the mongo sink's tests, because MongoDB itself does
// not install on the test machines.
//
// It listens on -listen (a free loopback port by default), keeps its data in
// -dir (a fresh temporary directory, removed at exit, by default), serves
// TLS only when given -tls-cert and -tls-key, prints the
// mongodb:// URI on one line of standard output once it accepts connections,
// and runs until standard input closes or it gets SIGINT or SIGTERM. A test
// restarts the "same" server by running it again with the -listen address
// and -dir of the first run.
//
// It is a module of its own so FerretDB's dependencies stay out of the
// daemon's go.mod.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-test:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	dir := flag.String("dir", "", "directory for the SQLite files (default: a temporary directory removed at exit)")
	tlsCert := flag.String("tls-cert", "", "serve TLS only, with this PEM certificate (needs -tls-key)")
	tlsKey := flag.String("tls-key", "", "the PEM private key of -tls-cert")
	logLevel := flag.String("log-level", "warn", "FerretDB's log level: debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dataDir := *dir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "ferretdb-test-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}

	lc := ferretdb.ListenerConfig{TCP: *listen}
	if *tlsCert != "" || *tlsKey != "" {
		lc = ferretdb.ListenerConfig{TLS: *listen, TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  lc,
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent holds our stdin: when it goes away, so do we.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI needs the listener, which Run sets up; and the URI is only
	// useful once the port accepts connections.
	uri := f.MongoDBURI()
	if err := waitListening(ctx, uri); err != nil {
		cancel()
		<-done
		return err
	}
	fmt.Println(uri)

	return <-done
}

// waitListening dials the URI's host until it accepts a TCP connection.
func waitListening(ctx context.Context, uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	host := u.Host
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			return c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return errors.New("FerretDB does not accept connections on " + host + ": " + err.Error())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
