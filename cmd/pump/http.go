package main

import (
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
