package main

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/server"
)

// httpSettings carries the server section of the configuration (CORS,
// request timeout, admin authentication) to the HTTP server.
func httpSettings(s config.Server) server.Settings {
	return server.Settings{
		CORS: server.CORS{
			AllowedOrigins:   s.CORS.AllowedOrigins,
			AllowedMethods:   s.CORS.AllowedMethods,
			AllowedHeaders:   s.CORS.AllowedHeaders,
			ExposedHeaders:   s.CORS.ExposedHeaders,
			AllowCredentials: s.CORS.AllowCredentials,
			MaxAge:           s.CORS.MaxAge.D(),
		},
		RequestTimeout: s.RequestTimeout.D(),
		AdminAuth:      server.AdminAuth(s.AdminAuth),
	}
}

// adminRoutes are the routes that change what the daemon does, served
// behind the admin authentication when server.admin-routes asks for them.
// Without a reload channel (the fixed configuration of tests) there is
// nothing to serve.
func (d *daemon) adminRoutes() map[string]http.Handler {
	if !d.cfg.Server.AdminRoutes || d.reloads == nil {
		return nil
	}
	return map[string]http.Handler{"/-/reload": http.HandlerFunc(d.serveReload)}
}

// logRoutes says at start which routes the server offers beside the
// probes, and what protects them, so an operator sees at once whether the
// reload and the profiles are reachable, and by whom.
func logRoutes(log *zap.Logger, s config.Server, srv *server.Server) {
	auth := s.AdminAuth.Type
	if auth == "" {
		auth = "none"
	}
	var admin, read []string
	for _, p := range srv.Protected() {
		switch {
		case strings.HasPrefix(p, "/debug/pprof/") && p != "/debug/pprof/":
			// Its sub-pages go without saying.
		case strings.Contains(p, "/-/") || p == "/debug/pprof/":
			admin = append(admin, p)
		default:
			read = append(read, p)
		}
	}
	read = append([]string{"/metrics"}, read...)
	protection := "server.admin-auth " + auth
	if auth == "none" {
		protection = "none: open to anyone who reaches " + srv.Addr()
	}
	if len(admin) == 0 {
		log.Info("admin routes off (server.admin-routes serves POST /-/reload, server.pprof /debug/pprof/)",
			zap.Strings("read_only_routes", read), zap.String("protected_by", protection))
		return
	}
	log.Info("admin routes on", zap.Strings("admin_routes", admin), zap.Strings("read_only_routes", read),
		zap.String("protected_by", protection))
}
