//go:build linux

package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pumpd/pump/internal/testing/testutil"
)

func TestShutdownRunsEveryCallbackInOrderWithinTheDeadline(t *testing.T) {
	var mu sync.Mutex
	var order []string
	ran := func(name string) {
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	var m ShutdownManager
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	m.Register("loop", func(context.Context) error { ran("loop"); return nil })
	m.Register("pumps", func(context.Context) error {
		<-stuck // a Close stuck in the kernel, deaf to its context
		return nil
	})
	m.Register("http server", func(context.Context) error { ran("http server"); return errors.New("boom") })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "shutdown pumps: abandoned at the shutdown deadline") {
		t.Fatalf("Shutdown = %v; want the stuck callback abandoned", err)
	}
	// The one after the stuck one still ran (its error is reported too
	// unless a loaded machine kept it from running within afterDeadline).
	testutil.Eventually(t, time.Minute, "the http server callback ran", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(order, ",") == "loop,http server"
	})
	if m.Shutdown(context.Background()) != nil {
		t.Fatal("a second Shutdown ran the callbacks again")
	}
}
