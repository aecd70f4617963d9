// Package logging builds the zap logger from the log.* keys, as iam does.
package logging

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pumpd/pump/config"
)

// New returns the logger the configuration asks for.
func New(c config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(strings.ToLower(c.Level))
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	if c.Development {
		enc = zap.NewDevelopmentEncoderConfig()
	}
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	if c.Format == "console" && c.EnableColor {
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
	} else if c.Format == "console" {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	zc := zap.Config{
		Level:             zap.NewAtomicLevelAt(level),
		Development:       c.Development,
		DisableCaller:     c.DisableCaller,
		DisableStacktrace: c.DisableStacktrace,
		Encoding:          c.Format,
		EncoderConfig:     enc,
		OutputPaths:       c.OutputPaths,
		ErrorOutputPaths:  c.ErrorOutputPaths,
	}
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("log.output-paths: %w", err)
	}
	if c.Name != "" {
		log = log.Named(c.Name)
	}
	return log, nil
}
