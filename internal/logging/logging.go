package logging

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pumpd/pump/config"
)

// TimeLayout is how iam's logger writes the time of a line.
const TimeLayout = "2006-01-02 15:04:05.000"

// New returns the logger the configuration asks for. Its lines carry iam's
// keys (timestamp, level, logger, caller, message, stacktrace) and iam's
// time layout, so what parses iam-pump's JSON log parses ours.
func New(c config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(strings.ToLower(c.Level))
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	encodeLevel := zapcore.CapitalLevelEncoder
	if c.Format == "console" && c.EnableColor {
		encodeLevel = zapcore.CapitalColorLevelEncoder
	}
	enc := zapcore.EncoderConfig{
		TimeKey:       "timestamp",
		LevelKey:      "level",
		NameKey:       "logger",
		CallerKey:     "caller",
		FunctionKey:   zapcore.OmitKey,
		MessageKey:    "message",
		StacktraceKey: "stacktrace",
		LineEnding:    zapcore.DefaultLineEnding,
		EncodeLevel:   encodeLevel,
		EncodeTime:    zapcore.TimeEncoderOfLayout(TimeLayout),
		// Durations are ours (iam logs none): "1.5s" reads better than 1500.
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeCaller:   zapcore.ShortCallerEncoder,
		EncodeName:     zapcore.FullNameEncoder,
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
