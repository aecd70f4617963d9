package logging

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/statusline"
)

// TimeLayout is how iam's logger writes the time of a line.
const TimeLayout = "2006-01-02 15:04:05.000"

// New returns the logger the configuration asks for. Its lines carry iam's
// keys (timestamp, level, logger, caller, message, stacktrace) and iam's
// time layout, so what parses iam-pump's JSON log parses ours.
func New(c config.Log) (*zap.Logger, error) {
	log, _, err := build(c, false)
	return log, err
}

// NewWithStatus is New, with a status line when the log's one output is
// standard output or standard error and that is an interactive terminal
// (not in CI): the logger then writes through the line, which clears
// itself before each log line and is drawn again after it. The line is
// nil otherwise.
func NewWithStatus(c config.Log) (*zap.Logger, *statusline.Line, error) {
	return build(c, true)
}

func build(c config.Log, status bool) (*zap.Logger, *statusline.Line, error) {
	level, err := zapcore.ParseLevel(strings.ToLower(c.Level))
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
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
	var line *statusline.Line
	var opts []zap.Option
	if term := terminalOf(c.OutputPaths); status && term != nil && statusline.Wanted(term) {
		line = statusline.New(term, func() int { return statusline.Width(term) })
		encoder := zapcore.NewConsoleEncoder(enc)
		if c.Format == "json" {
			encoder = zapcore.NewJSONEncoder(enc)
		}
		// The same encoder and level, writing through the line; the
		// logger's options (caller, stack traces) stay as zc builds them.
		opts = append(opts, zap.WrapCore(func(zapcore.Core) zapcore.Core {
			return zapcore.NewCore(encoder, line, zc.Level)
		}))
	}
	log, err := zc.Build(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("log.output-paths: %w", err)
	}
	if c.Name != "" {
		log = log.Named(c.Name)
	}
	return log, line, nil
}

// terminalOf is the one standard stream the log goes to, nil when it goes
// elsewhere or to more than one place.
func terminalOf(paths []string) *os.File {
	if len(paths) != 1 {
		return nil
	}
	switch paths[0] {
	case "stdout":
		return os.Stdout
	case "stderr":
		return os.Stderr
	}
	return nil
}
