//go:build linux

package storage

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// hostIdentity names this process on this host as "bootid:pidns:pid:start"
// (the boot's id, the pid namespace's inode, the pid and its start time in
// clock ticks since boot), so that a restart on the same host can tell its
// dead predecessor's lease from a live holder's. "" when /proc cannot say.
func hostIdentity() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := pidNamespace()
	if err != nil {
		return ""
	}
	pid := strconv.Itoa(os.Getpid())
	start, _, err := procStart(pid)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + ":" + ns + ":" + pid + ":" + start
}

// pidNamespace is the inode of this process's pid namespace ("pid:[N]").
func pidNamespace() (string, error) {
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return "", err
	}
	n := strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]")
	if n == link || n == "" {
		return "", errors.New("unexpected pid namespace link " + link)
	}
	return n, nil
}

// procStart returns the start time (field 22 of /proc/PID/stat) and the
// state (field 3) of process pid.
func procStart(pid string) (start, state string, err error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", "", err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after its last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", "", errors.New("unexpected /proc/" + pid + "/stat")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return "", "", errors.New("short /proc/" + pid + "/stat")
	}
	return fields[19], fields[0], nil
}

// holderDead reports whether identity (a holder's hostIdentity) is a
// process of this boot and pid namespace that no longer runs: its pid is
// gone, a zombie, or another process's that started at another time.
// A holder of another host, namespace or boot is never dead to us.
func holderDead(identity, self string) bool {
	h := strings.Split(identity, ":")
	s := strings.Split(self, ":")
	if len(h) != 4 || len(s) != 4 || h[0] != s[0] || h[1] != s[1] {
		return false
	}
	if h[2] == s[2] && h[3] == s[3] {
		return false // this very process
	}
	if _, err := strconv.Atoi(h[2]); err != nil {
		return false
	}
	start, state, err := procStart(h[2])
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true
	case err != nil:
		return false
	}
	return start != h[3] || state == "Z"
}
