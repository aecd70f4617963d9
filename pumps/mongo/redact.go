package mongo

import (
	"net/url"
	"strings"
)

// Redacted replaces a password in URLs, errors and logs.
const Redacted = "<redacted>"

// redactURL hides the password in a mongodb:// or mongodb+srv:// URL, and
// the values of query options that carry secrets. It works on the text, not
// through net/url, because a MongoDB URL may list several hosts.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	// The user info ends at the first '@' (as the driver reads it); the
	// hosts at the first '/' or '?' after it.
	if at := strings.Index(rest, "@"); at >= 0 {
		if user, _, has := strings.Cut(rest[:at], ":"); has {
			rest = user + ":" + Redacted + rest[at:]
		}
	}
	base, query, has := strings.Cut(rest, "?")
	if !has {
		return scheme + "://" + rest
	}
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		k, _, isPair := strings.Cut(p, "=")
		lk := strings.ToLower(k)
		if isPair && (strings.Contains(lk, "password") || lk == "authmechanismproperties") {
			pairs[i] = k + "=" + Redacted
		}
	}
	return scheme + "://" + base + "?" + strings.Join(pairs, "&")
}

// passwordOf returns the password of a MongoDB URL, escaped as written and
// unescaped, for scrubbing; nothing when it has none.
func passwordOf(s string) []string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil
	}
	at := strings.Index(rest, "@")
	if at < 0 {
		return nil
	}
	_, pw, has := strings.Cut(rest[:at], ":")
	if !has || pw == "" {
		return nil
	}
	out := []string{pw}
	if un, err := url.PathUnescape(pw); err == nil && un != pw {
		out = append(out, un)
	}
	return out
}

// secretsOf collects the passwords of every URL-looking string in meta.
func secretsOf(meta map[string]any) []string {
	var out []string
	for _, v := range meta {
		if s, ok := v.(string); ok {
			out = append(out, passwordOf(s)...)
		}
	}
	return out
}

// redactedError is an error whose message had secrets replaced. It still
// unwraps to the original, so errors.Is and errors.As see through it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr hides each secret in err's message. An err that holds none is
// returned as it is.
func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	for _, s := range secrets {
		if s != "" {
			out = strings.ReplaceAll(out, s, Redacted)
		}
	}
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

// hostsOf returns the host list of a MongoDB URL: what follows the scheme
// and user info, up to the path or query.
func hostsOf(s string) string {
	_, rest, _ := strings.Cut(s, "://")
	if at := strings.Index(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
