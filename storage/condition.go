package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Condition is what a failed Redis command says about the server, so the
// pump can log and report what is wrong instead of "unreachable" for all.
type Condition int

// The conditions, from a healthy server (OK) to an error of no known kind
// (Other).
const (
	OK Condition = iota
	// OutOfMemory: maxmemory reached with noeviction; writes that may grow
	// memory are refused.
	OutOfMemory
	// ReadOnly: the server is a replica (a failover in progress, or a
	// wrong address).
	ReadOnly
	// Loading: the server is loading its dataset after a restart.
	Loading
	// AuthFailed: NOAUTH, WRONGPASS or NOPERM: the credentials (or the
	// ACL user's rights) are wrong.
	AuthFailed
	// Redirected: a cluster node answered MOVED or ASK that the client did
	// not follow (a resharding, or a cluster reached as one server).
	Redirected
	// Unreachable: no answer at all: dial refused, timeout, connection
	// closed, TLS or certificate failure.
	Unreachable
	// Other is any other error.
	Other
)

// Conditions lists every condition, for metrics that show each.
var Conditions = []Condition{OK, OutOfMemory, ReadOnly, Loading, AuthFailed, Redirected, Unreachable, Other}

var conditionNames = [...]string{
	OK: "ok", OutOfMemory: "oom", ReadOnly: "readonly", Loading: "loading",
	AuthFailed: "auth", Redirected: "redirect", Unreachable: "unreachable", Other: "error",
}

// String is the condition's short name, a metric label.
func (c Condition) String() string {
	if c < 0 || int(c) >= len(conditionNames) {
		return "error"
	}
	return conditionNames[c]
}

// Classify tells what err says about Redis. Errors from inside a script
// count as the command's: Redis 6 wraps them ("... @user_script:1: -OOM
// command not allowed ..."), Redis 7 passes them on.
func Classify(err error) Condition {
	if err == nil {
		return OK
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := reply.Error()
		switch {
		case redis.IsOOMError(err) || hasCode(msg, "OOM"):
			return OutOfMemory
		case redis.IsReadOnlyError(err) || hasCode(msg, "READONLY"):
			return ReadOnly
		case redis.IsLoadingError(err) || hasCode(msg, "LOADING"):
			return Loading
		case redis.IsAuthError(err) || redis.IsPermissionError(err) ||
			hasCode(msg, "NOAUTH") || hasCode(msg, "WRONGPASS") || hasCode(msg, "NOPERM"):
			return AuthFailed
		}
		if _, ok := redis.IsMovedError(err); ok {
			return Redirected
		}
		if _, ok := redis.IsAskError(err); ok {
			return Redirected
		}
		if hasCode(msg, "MOVED") || hasCode(msg, "ASK") {
			return Redirected
		}
		return Other
	}
	var netErr net.Error
	var opErr *net.OpError
	var recordErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout),
		errors.As(err, &netErr), errors.As(err, &opErr), errors.As(err, &recordErr), errors.As(err, &certErr),
		errors.As(err, &unknownAuthority), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		return Unreachable
	}
	// The sentinel client's "redis: all sentinels specified in configuration
	// are unreachable" and the like carry no type.
	if strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "tls: ") {
		return Unreachable
	}
	return Other
}

// hasCode reports whether msg is the error code's reply, also wrapped by a
// Redis 6 script error ("... -CODE ...").
func hasCode(msg, code string) bool {
	msg = strings.TrimPrefix(msg, "ERR ")
	return strings.HasPrefix(msg, code+" ") || strings.Contains(msg, "-"+code+" ")
}
