package main

import (
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/pumpd/pump/pump"
)

// notifier speaks systemd's notify protocol (Type=notify): READY after
// start-up, RELOADING and STOPPING, and WATCHDOG pings while the loop is
// alive. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
type notifier struct {
	log  *zap.Logger
	done chan struct{}
}

func systemdNotifier(log *zap.Logger, health *pump.Healths) *notifier {
	n := &notifier{log: log, done: make(chan struct{})}
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return n
	}
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-n.done:
				return
			case <-t.C:
				// A stuck loop stops the pings, and systemd restarts us.
				if health.Live() == nil {
					n.send(sd.SdNotifyWatchdog)
				}
			}
		}
	}()
	return n
}

func (n *notifier) send(state string) {
	if state == sd.SdNotifyReloading {
		// systemd wants the time of the reload with it.
		state += "\nMONOTONIC_USEC=" + monotonicUsec()
	}
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notify failed", zap.Error(err))
	}
}

func (n *notifier) stop() { close(n.done) }
