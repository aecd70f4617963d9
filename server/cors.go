package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// cors lets the browsers of the listed origins read the answers (a Grafana
// panel or an admin page on another host) and answers their preflights. A
// request without an Origin header is not a browser's cross-origin request
// and passes untouched; a preflight the settings do not allow gets 403.
func cors(env Env) (Middleware, error) {
	c := env.Settings.CORS
	if len(c.AllowedOrigins) == 0 {
		return nil, fmt.Errorf(`server.cors.allowed-origins: the cors middleware needs at least one origin (or "*")`)
	}
	anyOrigin := slices.Contains(c.AllowedOrigins, "*")
	if anyOrigin && c.AllowCredentials {
		return nil, fmt.Errorf(`server.cors.allow-credentials: browsers refuse credentials with the origin "*": list the origins`)
	}
	origins := map[string]bool{}
	for _, o := range c.AllowedOrigins {
		origins[normalOrigin(o)] = true
	}
	methods := map[string]bool{}
	for _, m := range c.AllowedMethods {
		methods[strings.ToUpper(m)] = true
	}
	headers := map[string]bool{}
	for _, h := range c.AllowedHeaders {
		headers[strings.ToLower(h)] = true
	}
	allowMethods := strings.ToUpper(strings.Join(c.AllowedMethods, ", "))
	allowHeaders := strings.Join(c.AllowedHeaders, ", ")
	exposeHeaders := strings.Join(c.ExposedHeaders, ", ")
	maxAge := ""
	if secs := int(c.MaxAge.Seconds()); secs > 0 {
		maxAge = strconv.Itoa(secs)
	}

	allowOrigin := func(h http.Header, origin string) {
		if anyOrigin && !c.AllowCredentials {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			// The answer depends on the Origin: caches must keep them apart.
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			allowed := anyOrigin || origins[normalOrigin(origin)]
			wantMethod := r.Header.Get("Access-Control-Request-Method")
			if r.Method != http.MethodOptions || wantMethod == "" {
				if allowed {
					allowOrigin(h, origin)
					if exposeHeaders != "" {
						h.Set("Access-Control-Expose-Headers", exposeHeaders)
					}
				}
				next.ServeHTTP(w, r)
				return
			}
			// A preflight: the browser asks before sending the real request.
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			wantHeaders := headerList(r.Header.Get("Access-Control-Request-Headers"))
			if !allowed || !methods[strings.ToUpper(wantMethod)] || !allKnown(wantHeaders, headers) {
				http.Error(w, "CORS preflight refused", http.StatusForbidden)
				return
			}
			allowOrigin(h, origin)
			h.Set("Access-Control-Allow-Methods", allowMethods)
			if len(wantHeaders) > 0 && allowHeaders != "" {
				h.Set("Access-Control-Allow-Headers", allowHeaders)
			}
			if maxAge != "" {
				h.Set("Access-Control-Max-Age", maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}, nil
}

// normalOrigin compares origins as browsers send them: lower case, no
// trailing slash.
func normalOrigin(o string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
}

func allKnown(names []string, known map[string]bool) bool {
	for _, n := range names {
		if !known[strings.ToLower(n)] {
			return false
		}
	}
	return true
}
