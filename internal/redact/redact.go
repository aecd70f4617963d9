package redact

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every secret.
const Mask = "<redacted>"

var (
	// secretKey matches keys whose values are secrets themselves.
	secretKey = regexp.MustCompile(`(?i)(password|passwd|pwd|secret|token|api_?key|private_?key|credential)`)
	// sourceKey matches keys that name where a secret is read from
	// (token-env, password_file): those values are names, not secrets.
	sourceKey = regexp.MustCompile(`(?i)[-_](env|file)$`)
	// headerKey matches keys holding HTTP headers: every value is masked,
	// whatever the header's name (Authorization, X-Api-Key, X-Whatever).
	headerKey = regexp.MustCompile(`(?i)(^|[-_])headers?$`)
	// dsnPassword is a password inside a key=value DSN, PostgreSQL's
	// "host=db password='a b' dbname=x" say, quoted or not.
	dsnPassword = regexp.MustCompile(`(?i)\b(\w*(?:password|passwd|pwd)\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;]+)`)
)

// Text returns s with what its shape says is secret masked: the user-info
// of every URL in it (a user alone is masked whole, since it may be a
// token; with a password only the password), every query and fragment
// value, and every password= pair. It suits a setting's value and an
// error's text alike: it never needs s to parse.
func Text(s string) string {
	if strings.Contains(s, "://") {
		s = urls(s)
	}
	return dsnPassword.ReplaceAllString(s, "${1}"+Mask)
}

// urls masks every URL found in s, each one from its "://" to white space,
// a double quote (Go quotes URLs in errors) or the start of the next URL of
// a comma-separated list.
func urls(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		rest := s[i+3:]
		end := urlEnd(rest)
		b.WriteString(maskURL(rest[:end]))
		s = rest[end:]
	}
}

func urlEnd(rest string) int {
	end := len(rest)
	if i := strings.IndexAny(rest, " \t\r\n\""); i >= 0 {
		end = i
	}
	if i := strings.Index(rest[:end], "://"); i >= 0 {
		// Back over the next URL's scheme.
		for i > 0 && isSchemeByte(rest[i-1]) {
			i--
		}
		end = i
	}
	return end
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// maskURL masks the part of one URL after its "://". The user-info ends at
// the last '@' before the query: that also catches a password holding an
// unescaped '/' or '@', at the cost of masking a path with an '@' in it.
func maskURL(u string) string {
	head, frag, hasFrag := strings.Cut(u, "#")
	head, query, hasQuery := strings.Cut(head, "?")
	if at := strings.LastIndexByte(head, '@'); at >= 0 {
		user, _, hasPassword := strings.Cut(head[:at], ":")
		if hasPassword {
			head = user + ":" + Mask + head[at:]
		} else {
			head = Mask + head[at:]
		}
	}
	if hasQuery {
		head += "?" + maskQuery(query)
	}
	if hasFrag {
		if frag != "" {
			frag = Mask
		}
		head += "#" + frag
	}
	return head
}

// maskQuery masks every value of a query, keeping the names: an operator
// still sees which options are set.
func maskQuery(q string) string {
	var b strings.Builder
	for q != "" {
		i := strings.IndexAny(q, "&;")
		pair, sep := q, ""
		if i >= 0 {
			pair, sep, q = q[:i], q[i:i+1], q[i+1:]
		} else {
			q = ""
		}
		switch name, value, ok := strings.Cut(pair, "="); {
		case ok && value != "":
			b.WriteString(name + "=" + Mask)
		case ok:
			b.WriteString(name + "=")
		case pair != "":
			b.WriteString(Mask) // a bare value may be a token too
		}
		b.WriteString(sep)
	}
	return b.String()
}

// Tree redacts a decoded YAML or JSON tree (maps of string keys, lists,
// scalars) in place and returns it: every string goes through Text, every
// value below a key that names a secret or holds headers is masked.
func Tree(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			switch {
			case headerKey.MatchString(k):
				x[k] = maskHeaders(sub)
			case secretKey.MatchString(k) && !sourceKey.MatchString(k):
				x[k] = maskAll(sub)
			default:
				x[k] = Tree(sub)
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = Tree(x[i])
		}
		return x
	case string:
		return Text(x)
	}
	return v
}

// maskHeaders masks the values of headers: every value of a map (name to
// value), the part after the colon of a "Name: value" list item. A list of
// bare names (server.cors.allowed-headers) holds no value and stays.
func maskHeaders(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return maskAll(x)
	case []any:
		for i, item := range x {
			if s, ok := item.(string); ok {
				if name, _, has := strings.Cut(s, ":"); has {
					x[i] = name + ": " + Mask
				}
				continue
			}
			x[i] = maskAll(item)
		}
		return x
	case string:
		if name, _, has := strings.Cut(x, ":"); has {
			return name + ": " + Mask
		}
		return x
	}
	return maskAll(v)
}

// maskAll masks every scalar below v, keeping map keys, leaving empty
// values empty (an unset password is worth seeing) and booleans as they
// are (no secret is a boolean: allow-credentials is a switch).
func maskAll(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			x[k] = maskAll(sub)
		}
		return x
	case []any:
		for i := range x {
			x[i] = maskAll(x[i])
		}
		return x
	case nil, bool:
		return x
	case string:
		if x == "" {
			return x
		}
	}
	return Mask
}

// minScrubbed is the shortest value Secrets hides inside free text: a
// two-byte "secret" would mangle every message it occurs in, and hides
// nothing worth the name.
const minScrubbed = 4

// Secrets are the values one component must never show, collected from its
// settings; String and Error mask them wherever they occur, also where a
// driver quotes them in its own words.
type Secrets struct {
	values []string // longest first, so a secret holding another goes whole
}

// Add records values as secrets, with their URL-escaped and unescaped
// forms.
func (s *Secrets) Add(values ...string) {
	for _, v := range values {
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		if u, err := url.PathUnescape(v); err == nil {
			forms = append(forms, u)
		}
		if u, err := url.QueryUnescape(v); err == nil {
			forms = append(forms, u)
		}
		for _, f := range forms {
			if len(f) >= minScrubbed && !s.has(f) {
				s.values = append(s.values, f)
			}
		}
	}
	sort.SliceStable(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

func (s *Secrets) has(v string) bool {
	for _, x := range s.values {
		if x == v {
			return true
		}
	}
	return false
}

// AddURLs records what the URLs in raw (one, or a comma-separated list)
// carry: user names given alone and passwords of their user-info, and
// every query value. It works on the text, so it needs no URL to parse.
func (s *Secrets) AddURLs(raw string) {
	for _, u := range strings.Split(raw, ",") {
		_, rest, ok := strings.Cut(strings.TrimSpace(u), "://")
		if !ok {
			continue
		}
		rest, frag, _ := strings.Cut(rest, "#")
		head, query, _ := strings.Cut(rest, "?")
		if at := strings.LastIndexByte(head, '@'); at >= 0 {
			if _, pw, has := strings.Cut(head[:at], ":"); has {
				s.Add(pw)
			} else {
				s.Add(head[:at])
			}
		}
		for _, pair := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			if _, v, ok := strings.Cut(pair, "="); ok {
				s.Add(v)
			} else {
				s.Add(pair)
			}
		}
		s.Add(frag)
	}
}

// AddHeader records every value of h: any header may carry a credential.
func (s *Secrets) AddHeader(h http.Header) {
	for _, vs := range h {
		s.Add(vs...)
	}
}

// String masks the recorded secrets in text, then what Text masks.
func (s *Secrets) String(text string) string {
	if s != nil {
		for _, v := range s.values {
			text = strings.ReplaceAll(text, v, Mask)
		}
	}
	return Text(text)
}

// Error returns err with its message redacted as String does. The result
// unwraps to err, so errors.Is and errors.As (pumps.IsPermanent, a driver's
// error type) see through it. An err whose message needs no change is
// returned as it is, and nil stays nil.
func (s *Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.String(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// Error redacts err's message as Text does, keeping Unwrap.
func Error(err error) error {
	var none *Secrets
	return none.Error(err)
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
