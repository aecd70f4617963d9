package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.uber.org/zap"
)

// AdminAuth says who may use the admin routes (/metrics and Options.Admin),
// server.admin-auth. The secret is named, never written: an environment
// variable or a file, read once when the server is built.
type AdminAuth struct {
	Type         string // "none" (or ""), "bearer" or "basic"
	TokenEnv     string
	TokenFile    string
	Username     string
	PasswordEnv  string
	PasswordFile string
}

// Realm is the protection space named in WWW-Authenticate.
const Realm = "pump"

// guard checks the credentials of admin requests. It keeps only SHA-256
// digests of the expected values, and compares digests in constant time,
// so neither the secret's content nor its length leaks through timing.
type guard struct {
	basic  bool
	user   [sha256.Size]byte
	secret [sha256.Size]byte
	log    *zap.Logger
}

// newGuard reads the secret of a; it returns nil when a asks for no
// authentication.
func newGuard(a AdminAuth, log *zap.Logger) (*guard, error) {
	const key = "server.admin-auth."
	switch a.Type {
	case "", "none":
		return nil, nil
	case "bearer":
		token, err := readSecret(key+"token-env", a.TokenEnv, key+"token-file", a.TokenFile)
		if err != nil {
			return nil, err
		}
		return &guard{secret: sha256.Sum256([]byte(token)), log: log}, nil
	case "basic":
		if a.Username == "" || strings.Contains(a.Username, ":") {
			return nil, fmt.Errorf("%susername: type basic needs a username without a colon", key)
		}
		password, err := readSecret(key+"password-env", a.PasswordEnv, key+"password-file", a.PasswordFile)
		if err != nil {
			return nil, err
		}
		return &guard{basic: true, user: sha256.Sum256([]byte(a.Username)), secret: sha256.Sum256([]byte(password)), log: log}, nil
	}
	return nil, fmt.Errorf("%stype: want none, bearer or basic, got %q", key, a.Type)
}

// readSecret returns the value of the environment variable env or the
// content of file, trimmed of surrounding white space (a trailing newline
// from `echo` or an editor is not part of a secret). Errors name the key,
// never the value.
func readSecret(envKey, env, fileKey, file string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", fmt.Errorf("%s: set %s or %s, not both", fileKey, envKey, fileKey)
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", envKey, env)
		}
		if v = strings.TrimSpace(v); v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty", envKey, env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fileKey, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: %s is empty", fileKey, file)
		}
		return v, nil
	}
	return "", fmt.Errorf("%s: set %s or %s", envKey, envKey, fileKey)
}

// protect lets a request through to h only with the right credentials.
func (g *guard) protect(h http.Handler) http.Handler {
	if g == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := g.check(r)
		if ok {
			h.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="` + Realm + `"`
		if g.basic {
			challenge = `Basic realm="` + Realm + `", charset="UTF-8"`
		} else if given {
			challenge += `, error="invalid_token"`
		}
		reason := "no credentials"
		if given {
			reason = "wrong credentials"
		}
		g.log.Warn("admin request refused", zap.String("reason", reason), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
}

// check reports whether the request carried credentials of the guard's
// kind, and whether they are the right ones.
func (g *guard) check(r *http.Request) (given, ok bool) {
	if g.basic {
		user, password, found := r.BasicAuth()
		if !found {
			return false, false
		}
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
		// Both comparisons run whatever the first says.
		match := subtle.ConstantTimeCompare(u[:], g.user[:]) & subtle.ConstantTimeCompare(p[:], g.secret[:])
		return true, match == 1
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false, false
	}
	t := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return true, subtle.ConstantTimeCompare(t[:], g.secret[:]) == 1
}
