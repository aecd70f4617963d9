//go:build !linux

package storage

// hostIdentity is "": without /proc a restart cannot tell its dead
// predecessor's lease from a live holder's, so it waits the lease out.
func hostIdentity() string { return "" }

func holderDead(identity, self string) bool { return false }
