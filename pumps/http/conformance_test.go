package http

import (
	"net/http"
	"sync"
	"testing"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/testing/sinktest"
	"github.com/pumpd/pump/pumps"
)

// The sink keeps the promises every sink makes, against a real HTTP server
// in the test that can hold its answers, through a proxy that can cut it.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	hold := make(chan struct{})
	close(hold) // open: answers go out at once
	srv := startServer(t, func(w http.ResponseWriter, _ int) {
		mu.Lock()
		h := hold
		mu.Unlock()
		<-h
		w.WriteHeader(http.StatusOK)
	})
	px := sinktest.StartProxy(t, srv.Listener.Addr().String())
	sinktest.Run(t, sinktest.Target{
		New:   func() pumps.Sink { return New() },
		Meta:  pumps.Meta{"url": "http://" + px.Addr + "/ingest"},
		Break: px.Break,
		Read: func(t *testing.T) []analytics.Record {
			var out []analytics.Record
			for _, r := range srv.requests() {
				out = append(out, parseBody(t, r.Body, false)...)
			}
			return out
		},
		Stall: func(t *testing.T) func() {
			release := make(chan struct{})
			mu.Lock()
			hold = release
			mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { close(release) }) }
		},
	})
}
