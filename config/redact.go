package config

import (
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted is how secrets appear in logs and `pump validate` output.
const Redacted = "<redacted>"

var (
	secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|api_?key|private)`)
	// Keys that name where a secret is read from are not secrets.
	secretSource = regexp.MustCompile(`(?i)[-_](env|file)$`)
	// A password inside a key=value DSN (PostgreSQL's, say).
	dsnPassword = regexp.MustCompile(`(?i)\b((?:password|pwd)\s*=\s*)('[^']*'|[^\s&;]+)`)
)

// RedactedMap returns the configuration as a tree fit for logging: values of
// keys that name secrets, and passwords inside URLs, are replaced.
func (c Config) RedactedMap() map[string]any {
	b, err := yaml.Marshal(c)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return redactMap(tree)
}

func redactMap(m map[string]any) map[string]any {
	for k, v := range m {
		if secretKey.MatchString(k) && !secretSource.MatchString(k) {
			if s, ok := v.(string); ok && s != "" {
				m[k] = Redacted
				continue
			}
		}
		m[k] = redactValue(v)
	}
	return m
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return redactMap(x)
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
		return x
	case string:
		return dsnPassword.ReplaceAllString(RedactURL(x), "${1}"+Redacted)
	}
	return v
}

// RedactURL hides the password of a URL such as mongodb://u:p@host/db, and
// returns any other string as it is.
func RedactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable but shaped like a URL with credentials: hide them all.
		scheme, rest, _ := strings.Cut(s, "://")
		if _, host, ok := strings.Cut(rest, "@"); ok {
			return scheme + "://" + Redacted + "@" + host
		}
		return s
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return strings.Replace(u.String(), ":xxxxx@", ":"+Redacted+"@", 1)
	}
	return s
}
