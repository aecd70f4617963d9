package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ShutdownManager runs the registered stop callbacks in the order they were
// registered (the HTTP server, the Redis client, the logger, ...), each with
// what is left of the shutdown deadline.
type ShutdownManager struct {
	mu        sync.Mutex
	callbacks []namedCallback
}

type namedCallback struct {
	name string
	fn   func(context.Context) error
}

// Register adds fn to run at shutdown under name (used in errors).
func (m *ShutdownManager) Register(name string, fn func(context.Context) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks = append(m.callbacks, namedCallback{name, fn})
}

// afterDeadline is how long the callbacks still to run after the deadline
// passed get, all together: a quick Close (the Redis client, the HTTP
// server) still runs and reports; a stuck one does not hold the exit.
const afterDeadline = 500 * time.Millisecond

// Shutdown runs every callback in order, even after one fails or the
// deadline passes (each gets a chance to release what it holds), and
// returns all their errors. It returns by ctx's deadline (plus
// afterDeadline) whatever a callback does: one still running then (a
// sink's Close stuck in the kernel) is abandoned and reported.
func (m *ShutdownManager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	callbacks := m.callbacks
	m.callbacks = nil
	m.mu.Unlock()
	var late <-chan time.Time
	var errs []error
	for _, cb := range callbacks {
		done := make(chan error, 1)
		go func() { done <- cb.fn(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			if late == nil {
				late = time.After(afterDeadline)
			}
			select {
			case err = <-done:
			case <-late:
				err = fmt.Errorf("abandoned at the shutdown deadline: %w", context.Cause(ctx))
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", cb.name, err))
		}
	}
	return errors.Join(errs...)
}
