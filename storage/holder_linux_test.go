//go:build linux

package storage

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deadProcess runs a process to its end and returns the identity it had.
func deadProcess(t *testing.T, self string) string {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	start, _, err := procStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	s := strings.Split(self, ":")
	return s[0] + ":" + s[1] + ":" + pid + ":" + start
}

func TestHolderDeadOnlyForAGoneProcessOfThisHost(t *testing.T) {
	self := hostIdentity()
	if len(strings.Split(self, ":")) != 4 {
		t.Fatalf("hostIdentity() = %q, want bootid:pidns:pid:start", self)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	livePid := strconv.Itoa(live.Process.Pid)
	liveStart, _, err := procStart(livePid)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Split(self, ":")
	dead := deadProcess(t, self)
	d := strings.Split(dead, ":")
	for _, tc := range []struct {
		name, identity string
		dead           bool
	}{
		{"this process", self, false},
		{"a live process", s[0] + ":" + s[1] + ":" + livePid + ":" + liveStart, false},
		{"a live pid that started at another time (reused)", s[0] + ":" + s[1] + ":" + livePid + ":1", true},
		{"a process that exited", dead, true},
		{"a gone process of another boot", "another-boot:" + s[1] + ":" + d[2] + ":" + d[3], false},
		{"a gone process of another pid namespace", s[0] + ":1:" + d[2] + ":" + d[3], false},
		{"no identity", "", false},
		{"garbage", s[0] + ":" + s[1] + ":x:y", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := holderDead(tc.identity, self); got != tc.dead {
				t.Fatalf("holderDead(%q) = %v, want %v", tc.identity, got, tc.dead)
			}
		})
	}
}

func TestAcquireTakesOverOnlyADeadHolderOfThisHost(t *testing.T) {
	ctx := context.Background()
	r, a, _ := newQueues(t)
	dead := "old/0123@" + deadProcess(t, a.identity)
	elsewhere := "other/4567@another-boot:1:1:1"
	for _, tc := range []struct {
		holder string
		want   bool
	}{{dead, true}, {elsewhere, false}, {"iam-pump-without-identity", false}} {
		if err := r.Client().Set(ctx, a.LeaseKey(), tc.holder, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		var took string
		a.OnTakeover(func(d string) { took = d })
		ok, err := a.Acquire(ctx)
		if err != nil || ok != tc.want {
			t.Fatalf("Acquire over %q = %v, %v; want %v", tc.holder, ok, err, tc.want)
		}
		if h, _ := a.Holder(ctx); tc.want && (h != a.Token() || took != tc.holder) {
			t.Fatalf("after the takeover the lease is %q (reported %q), want %q", h, took, a.Token())
		} else if !tc.want && h != tc.holder {
			t.Fatalf("a live or foreign holder's lease was replaced by %q", h)
		}
		if ttl := r.Client().PTTL(ctx, a.LeaseKey()).Val(); tc.want && ttl > a.TTL() {
			t.Fatalf("the taken-over lease keeps the old TTL %v, want ours %v", ttl, a.TTL())
		}
	}
}
