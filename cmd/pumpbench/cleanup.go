package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// cleanups are what an interrupted run must still undo (the PostgreSQL
// database, the servers pumpbench started, the work directory), newest
// first. The normal path runs them itself through the func that onExit
// returns.
var cleanups struct {
	sync.Mutex
	fns     map[int]func()
	next    int
	stopped bool
}

// onExit registers f to run if the run is interrupted, and returns the
// func to call on the normal path instead: it runs f once and unregisters
// it.
func onExit(f func()) func() {
	cleanups.Lock()
	defer cleanups.Unlock()
	if cleanups.fns == nil {
		cleanups.fns = map[int]func(){}
	}
	id := cleanups.next
	cleanups.next++
	cleanups.fns[id] = f
	return func() {
		cleanups.Lock()
		g, ok := cleanups.fns[id]
		delete(cleanups.fns, id)
		stopped := cleanups.stopped
		cleanups.Unlock()
		if ok && !stopped {
			g()
		}
	}
}

// handleInterrupts runs the registered cleanups, newest first, on SIGINT
// or SIGTERM, and exits.
func handleInterrupts() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		fmt.Fprintf(os.Stderr, "pumpbench: %v: cleaning up\n", sig)
		cleanups.Lock()
		cleanups.stopped = true
		fns := cleanups.fns
		cleanups.fns = nil
		last := cleanups.next
		cleanups.Unlock()
		for id := last - 1; id >= 0; id-- {
			if f, ok := fns[id]; ok {
				f()
			}
		}
		os.Exit(130)
	}()
}
