package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/pump"
	"github.com/pumpd/pump/pumps"
)

// restartOnly are the keys a reload cannot change: they hold connections,
// listeners or the identity of the lease. A change is logged and ignored.
var restartOnly = []string{"redis", "health-check-address", "health-check-path", "analytics-key", "sources",
	"lease-ttl", "instance-id", "server", "log"}

// applyReload re-reads the configuration. An invalid file, or a new pump
// that cannot start, leaves everything running as it was. Otherwise the
// loops are stopped the way a stop signal stops it (batches in flight are
// written and trimmed, so nothing is lost or written twice), changed and
// removed pumps are flushed and closed, the new ones swapped in, and the
// caller starts the loop again.
func (d *daemon) applyReload(stopLoop func(), loopDone <-chan error) error {
	if d.reload == nil {
		return errors.New("reload is not available")
	}
	next, err := d.reload()
	if err != nil {
		d.log.Error("reload refused: the running configuration stays", zap.Error(err))
		return err
	}
	if next.InstanceID == "" {
		next.InstanceID = d.cfg.InstanceID // the generated one
	}
	next = d.keepRestartOnly(next)

	var added, changed, removed, kept []string
	for name, pc := range next.Pumps {
		old, ok := d.cfg.Pumps[name]
		switch {
		case !ok:
			added = append(added, name)
		case !reflect.DeepEqual(old, pc):
			changed = append(changed, name)
		default:
			kept = append(kept, name)
		}
	}
	for name := range d.cfg.Pumps {
		if _, ok := next.Pumps[name]; !ok {
			removed = append(removed, name)
		}
	}
	for _, l := range [][]string{added, changed, removed, kept} {
		sort.Strings(l)
	}
	// Start the new pumps before touching the running ones, so a pump that
	// cannot start costs nothing.
	startCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fresh := map[string]config.Pump{}
	for _, name := range append(append([]string{}, added...), changed...) {
		fresh[name] = next.Pumps[name]
	}
	started, err := d.startOutputs(startCtx, fresh)
	if err != nil {
		d.log.Error("reload refused: a new pump cannot start; the running configuration stays", zap.Error(err))
		return err
	}

	stopLoop()
	if err := <-loopDone; err != nil {
		d.log.Warn("loop stopped with an error before the reload", zap.Error(err))
	}
	byName := map[string]*pump.Output{}
	for _, out := range d.outputs {
		byName[out.Name] = out
	}
	var closeErrs []error
	for _, name := range append(append([]string{}, changed...), removed...) {
		old := byName[name]
		if err := old.Sink.Close(startCtx); err != nil {
			closeErrs = append(closeErrs, fmt.Errorf("pump %s: %w", name, err))
		}
	}
	outputs := started
	for _, name := range kept {
		outputs = append(outputs, byName[name])
		// SIGHUP is logrotate's signal: file sinks let go of renamed files.
		if r, ok := byName[name].Sink.(pumps.Reopener); ok {
			if err := r.Reopen(); err != nil {
				closeErrs = append(closeErrs, fmt.Errorf("pump %s: %w", name, err))
			}
		}
	}
	sort.Slice(outputs, func(i, j int) bool { return outputs[i].Name < outputs[j].Name })
	d.setOutputs(outputs)
	d.cfg = next
	for _, dr := range d.drains { // sources are restart-only: dr.src stays
		dr.loop.Update(loopSettings(next, dr.src), fed(dr.src, outputs))
	}
	if len(removed) > 0 {
		d.log.Warn("removed pumps keep their parked lists in Redis until they come back",
			zap.Strings("removed", removed))
	}
	d.log.Info("configuration reloaded", zap.Strings("added", added), zap.Strings("changed", changed),
		zap.Strings("removed", removed), zap.Strings("unchanged", kept), zap.Errors("close_errors", closeErrs))
	return nil
}

// serveReload is POST /-/reload: the same as SIGHUP, answering with the
// outcome: 200, or 400 with why the new configuration was refused.
func (d *daemon) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	req := reloadRequest{reply: make(chan error, 1)}
	select {
	case d.reloads <- req:
	case <-r.Context().Done():
		http.Error(w, "the daemon is busy or stopping", http.StatusServiceUnavailable)
		return
	}
	select {
	case err := <-req.reply:
		if err != nil {
			http.Error(w, "reload refused: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	case <-r.Context().Done():
		http.Error(w, "reload still running", http.StatusServiceUnavailable)
	}
}

// keepRestartOnly copies the keys a reload cannot change from the running
// configuration into next, warning about each one that differed.
func (d *daemon) keepRestartOnly(next config.Config) config.Config {
	cur := reflect.ValueOf(&d.cfg).Elem()
	nv := reflect.ValueOf(&next).Elem()
	t := cur.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		for _, ro := range restartOnly {
			if name != ro {
				continue
			}
			if !reflect.DeepEqual(cur.Field(i).Interface(), nv.Field(i).Interface()) {
				d.log.Warn("this key changed but takes a restart; the running value stays", zap.String("key", name))
			}
			nv.Field(i).Set(cur.Field(i))
		}
	}
	return next
}
