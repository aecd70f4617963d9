package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ferretBinary is the FerretDB test server of internal/testing/testenv/mongo (a
// module of its own): -ferretdb, else $PUMP_TEST_FERRETDB, else built
// into the work directory.
func ferretBinary(e *env) (string, error) {
	for _, p := range []string{e.ferretdb, os.Getenv("PUMP_TEST_FERRETDB")} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the FerretDB test server: %w", err)
			}
			return p, nil
		}
	}
	out := filepath.Join(e.work, "ferretdb-test")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	fmt.Fprintln(os.Stderr, "building the FerretDB test server (internal/testing/testenv/mongo)")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join("internal", "testing", "testenv", "mongo")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the FerretDB test server (internal/testing/testenv/mongo): %w", err)
	}
	return out, nil
}

// setupMongo starts the FerretDB test server (MongoDB's wire protocol on
// SQLite, the server the mongo sink's tests use) on a free port with its
// data in the work directory, and counts the collection's documents.
func setupMongo(e *env, _ int) (*target, error) {
	bin, err := ferretBinary(e)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.work, "ferretdb")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(e.work, "ferretdb.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-dir", dir)
	cmd.Stderr = logf
	// The server also exits when its stdin closes, so it cannot outlive us.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the FerretDB test server: %w", err)
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
		stdin.Close()
		os.RemoveAll(dir)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var uri string
	select {
	case uri = <-lines:
	case <-time.After(time.Minute):
		stop()
		return nil, errors.New("the FerretDB test server printed no URI within a minute; see " + logf.Name())
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(uri, "mongodb://"), "/")
	if !strings.HasPrefix(uri, "mongodb://") || addr == "" {
		stop()
		return nil, fmt.Errorf("the FerretDB test server printed %q instead of its URI; see %s", uri, logf.Name())
	}
	url := "mongodb://" + addr + "/pumpbench"
	var kept []any // the documents the count read back
	return &target{
		meta:    fmt.Sprintf("{mongo_url: %q, collection_name: iam_analytics}", url),
		server:  "FerretDB 1.24 on SQLite (internal/testing/testenv/mongo, the mongo sink's test server), own process",
		checked: "documents in the collection",
		// Counted by reading every document back rather than with
		// countDocuments: FerretDB on SQLite counts by decoding each
		// document inside one aggregate command, which took over a minute
		// for 200,000 and hit the deadline (the line FAILED), where a
		// cursor's batches each take a moment. The documents read are
		// what the limit loads again.
		count: func(string) (int, error) {
			docs, err := readBack(url)
			if err != nil {
				return 0, err
			}
			kept = docs
			return len(docs), nil
		},
		limit: func(n int) (*limit, error) { return mongoLimit(url, n, kept) },
		close: stop,
	}, nil
}

// readBack reads every document of the collection, through a cursor,
// and checks that their _ids are distinct.
func readBack(url string) ([]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	cur, err := c.Database("pumpbench").Collection("iam_analytics").Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(context.Background()) }()
	var docs []any
	ids := map[string]bool{}
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").StringValueOK()
		if !ok {
			return nil, fmt.Errorf("a document without a string _id: %s", cur.Current)
		}
		if ids[id] {
			return nil, fmt.Errorf("two documents with _id %q", id)
		}
		ids[id] = true
		docs = append(docs, bson.Raw(slices.Clone(cur.Current)))
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read the documents back: %w", err)
	}
	return docs, nil
}

// mongoLimit times one unordered InsertMany of the n documents the pump
// wrote (docs, read back by the line's count) into the same collection,
// emptied first (the driver splits it into messages of its maximum size).
func mongoLimit(url string, n int, docs []any) (*limit, error) {
	if len(docs) != n {
		return nil, fmt.Errorf("read back %d documents, want %d", len(docs), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	coll := c.Database("pumpbench").Collection("iam_analytics")
	// Dropped rather than emptied: FerretDB on SQLite cannot delete that
	// many documents in one command. The sink's only index (a TTL index on
	// expireAt) is made again, where the server can.
	if err := coll.Drop(ctx); err != nil {
		return nil, err
	}
	_, _ = coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expireAt", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	start := time.Now()
	res, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	took := time.Since(start)
	if err != nil {
		return nil, err
	}
	if len(res.InsertedIDs) != n {
		return nil, fmt.Errorf("inserted %d documents, want %d", len(res.InsertedIDs), n)
	}
	return &limit{records: n, took: took, how: fmt.Sprintf("one unordered InsertMany of the collection's own %s documents (read back; the collection dropped and made again) into it", thousands(n))}, nil
}
