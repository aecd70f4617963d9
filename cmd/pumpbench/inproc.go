package main

// The servers in this file run inside pumpbench, on the same two cores as
// the pump: their CPU is taken from the pump, which the table says.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// setupHTTP answers the http sink's POSTs with 204 after reading the body
// and counting its NDJSON lines (one a record).
func setupHTTP(*env, int) (*target, error) {
	var records, requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ingest", func(w http.ResponseWriter, r *http.Request) {
		n, err := countLines(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		records.Add(int64(n))
		requests.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	addr, stop, err := serveHTTP(mux)
	if err != nil {
		return nil, err
	}
	return &target{
		meta:    fmt.Sprintf("{url: %q, format: ndjson}", "http://"+addr+"/ingest"),
		server:  "net/http server in pumpbench (reads and discards)",
		inProc:  true,
		checked: "NDJSON lines the server read",
		count:   func(string) (int, error) { return int(records.Load()), nil },
		close:   stop,
	}, nil
}

func serveHTTP(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), func() { _ = srv.Close() }, nil
}

// setupSyslog listens on TCP and reads octet-counted frames (RFC 6587
// 3.4.1, "LEN SP MSG"), counting messages.
func setupSyslog(*env, int) (*target, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var (
		messages atomic.Int64
		mu       sync.Mutex
		conns    = map[net.Conn]bool{}
		readErr  error
		wg       sync.WaitGroup
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := readFrames(c, &messages)
				mu.Lock()
				delete(conns, c)
				if err != nil && readErr == nil {
					readErr = err
				}
				mu.Unlock()
				c.Close()
			}()
		}
	}()
	return &target{
		meta:    fmt.Sprintf("{transport: tcp, network_addr: %q, framing: octet-counting}", l.Addr().String()),
		server:  "TCP listener in pumpbench (reads octet-counted frames)",
		inProc:  true,
		checked: "syslog frames the listener read",
		count: func(string) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return int(messages.Load()), readErr
		},
		close: func() {
			l.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		},
	}, nil
}

// readFrames reads "LEN SP MSG" frames until the peer closes.
func readFrames(c net.Conn, messages *atomic.Int64) error {
	r := bufio.NewReaderSize(c, 256<<10)
	for {
		head, err := r.ReadSlice(' ')
		if errors.Is(err, io.EOF) && len(head) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("syslog frame length: %w", err)
		}
		size, err := strconv.Atoi(string(head[:len(head)-1]))
		if err != nil || size <= 0 {
			return fmt.Errorf("syslog frame length %q", head)
		}
		if _, err := r.Discard(size); err != nil {
			return fmt.Errorf("syslog frame of %d bytes: %w", size, err)
		}
		messages.Add(1)
	}
}

// setupElasticsearch answers the _bulk protocol minimally: the product
// header the v8 client insists on, and one "created" item per action in
// order. It is a test server, not Elasticsearch: it stores nothing but
// each document's _id, so it is far faster than a real cluster.
func setupElasticsearch(*env, int) (*target, error) {
	srv := &bulkServer{}
	addr, stop, err := serveHTTP(srv)
	if err != nil {
		return nil, err
	}
	return &target{
		meta:    esMeta("http://" + addr),
		server:  "**test server** in pumpbench answering _bulk (stores only ids; not Elasticsearch)",
		inProc:  true,
		checked: "distinct document _ids indexed",
		count:   func(string) (int, error) { return srv.count() },
		limit:   func(n int) (*limit, error) { return elasticsearchLimit(srv, addr, n) },
		close:   stop,
	}, nil
}

func esMeta(url string) string {
	return fmt.Sprintf("{elasticsearch_url: %q, index_name: iam_analytics}", url)
}

// bulkServer is the _bulk test server. With capture set it also keeps the
// bodies it was sent.
type bulkServer struct {
	mu      sync.Mutex
	ids     map[string]struct{}
	actions int
	bad     error
	capture *requestLog
}

var created = []byte(`{"index":{"status":201}}`)

func (s *bulkServer) fail(w http.ResponseWriter, format string, args ...any) {
	err := fmt.Errorf(format, args...)
	s.mu.Lock()
	if s.bad == nil {
		s.bad = err
	}
	s.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (s *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		_, _ = io.WriteString(w, `{"name":"pumpbench","cluster_name":"pumpbench","version":{"number":"8.19.0","build_flavor":"default"},"tagline":"You Know, for Search"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			s.fail(w, "read _bulk body: %v", err)
			return
		}
		if len(body) == 0 || body[len(body)-1] != '\n' {
			s.fail(w, "_bulk body does not end with a newline")
			return
		}
		lines := bytes.Split(body[:len(body)-1], []byte{'\n'})
		if len(lines)%2 != 0 {
			s.fail(w, "_bulk body of %d lines: want action and document pairs", len(lines))
			return
		}
		batch := make([]string, 0, len(lines)/2)
		for i := 0; i < len(lines); i += 2 {
			id, ok := actionID(lines[i])
			if !ok || len(lines[i+1]) == 0 || lines[i+1][0] != '{' {
				s.fail(w, "_bulk action %q without an index _id or a document", lines[i])
				return
			}
			batch = append(batch, id)
		}
		s.mu.Lock()
		if s.ids == nil {
			s.ids = map[string]struct{}{}
		}
		for _, id := range batch {
			s.ids[id] = struct{}{}
		}
		s.actions += len(batch)
		if s.capture != nil {
			s.capture.bodies = append(s.capture.bodies, body)
		}
		s.mu.Unlock()
		out := make([]byte, 0, 32+len(batch)*(len(created)+1))
		out = append(out, `{"took":1,"errors":false,"items":[`...)
		for i := range batch {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, created...)
		}
		out = append(out, "]}"...)
		_, _ = w.Write(out)
	default:
		s.fail(w, "unexpected request %s %s", r.Method, r.URL)
	}
}

// count is the distinct _ids indexed; an _id sent twice is an error.
func (s *bulkServer) count() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad != nil {
		return 0, s.bad
	}
	if s.actions != len(s.ids) {
		return 0, fmt.Errorf("%d index actions for %d distinct _ids: documents were sent twice", s.actions, len(s.ids))
	}
	return len(s.ids), nil
}

func (s *bulkServer) reset() {
	s.mu.Lock()
	s.ids, s.actions, s.bad = nil, 0, nil
	s.mu.Unlock()
}

// elasticsearchLimit makes the elasticsearch sink send the n records to a
// capturing test server, empties the line's server, and times posting the
// same documents to it back to back from one client, in _bulk requests
// of up to 10 MiB (the sink's bodies joined).
func elasticsearchLimit(srv *bulkServer, addr string, n int) (*limit, error) {
	capture := &bulkServer{capture: &requestLog{}}
	caddr, stop, err := serveHTTP(capture)
	if err != nil {
		return nil, err
	}
	err = sinkWrites("elasticsearch", esMeta("http://"+caddr), n)
	stop()
	if err != nil {
		return nil, err
	}
	var requests [][]byte
	var cur []byte
	for _, b := range capture.capture.bodies {
		if len(cur) > 0 && len(cur)+len(b) > 10<<20 {
			requests = append(requests, cur)
			cur = nil
		}
		cur = append(cur, b...)
	}
	requests = append(requests, cur)
	srv.reset()
	client := &http.Client{}
	cpuBefore := selfCPU()
	start := time.Now()
	for _, body := range requests {
		resp, err := client.Post("http://"+addr+"/_bulk", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("_bulk: %s", resp.Status)
		}
	}
	took, cpu := time.Since(start), selfCPU()-cpuBefore
	if got, err := srv.count(); err != nil || got != n {
		return nil, fmt.Errorf("the server indexed %d documents, want %d (%v)", got, n, err)
	}
	return &limit{records: n, took: took, cpu: cpu, how: fmt.Sprintf("the documents the sink sends for the same records, in %d _bulk requests of up to 10 MiB, one after the other, to the emptied test server", len(requests))}, nil
}

// actionID returns the _id of an {"index":{...,"_id":"..."}} action line.
func actionID(line []byte) (string, bool) {
	if !bytes.HasPrefix(line, []byte(`{"index":`)) {
		return "", false
	}
	_, rest, ok := bytes.Cut(line, []byte(`"_id":"`))
	if !ok {
		return "", false
	}
	id, _, ok := bytes.Cut(rest, []byte{'"'})
	return string(id), ok && len(id) > 0
}
