package pump

import (
	"testing"
	"time"

	"github.com/pumpd/pump/storage"
)

func TestHealthsFailWhenOneSourceFailsAndSayWhich(t *testing.T) {
	stuck := func() *Health {
		h := NewHealth(time.Minute)
		h.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		return h
	}
	oom := func() *Health {
		h := NewHealth(time.Minute)
		h.SetRedisCondition(storage.OutOfMemory)
		return h
	}
	fine := func() *Health { return NewHealth(time.Minute) }
	for _, tc := range []struct {
		name                string
		sources             map[string]func() *Health
		order               []string
		wantLive, wantReady string
	}{
		{"none yet", nil, nil, "starting", "starting"},
		{"one fine", map[string]func() *Health{"a": fine}, []string{"a"}, "", ""},
		{"one stuck, named as before", map[string]func() *Health{"a": stuck}, []string{"a"},
			"loop stuck: no progress for 2m0s", "loop stuck: no progress for 2m0s"},
		{"two, the second out of memory", map[string]func() *Health{"a": fine, "b": oom}, []string{"a", "b"},
			"", "source b: redis out of memory"},
		{"two, the first stuck", map[string]func() *Health{"a": stuck, "b": fine}, []string{"a", "b"},
			"source a: loop stuck: no progress for 2m0s", "source a: loop stuck: no progress for 2m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hs Healths
			for _, src := range tc.order {
				hs.Add(src, tc.sources[src]())
			}
			hs.SetStarted()
			if got := errString(hs.Live()); got != tc.wantLive {
				t.Errorf("Live() = %q, want %q", got, tc.wantLive)
			}
			if got := errString(hs.Ready()); got != tc.wantReady {
				t.Errorf("Ready() = %q, want %q", got, tc.wantReady)
			}
			if len(tc.order) > 0 {
				hs.SetStopping()
				if err := hs.Ready(); err == nil {
					t.Error("ready after SetStopping")
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
