package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pumpd/pump/internal/strict"
)

// The modes of a source.
const (
	// ModeList drains a list as iam writes it: one instance at a time,
	// under the list's lease.
	ModeList = "list"
	// ModeStreams reads a stream through a consumer group: every instance
	// in the group takes a share.
	ModeStreams = "streams"
)

// FormatIAM is iam's msgpack record, the one format a source may hold.
const FormatIAM = "iam"

// Input is one Redis key the daemon drains, sources[i] (Source is taken:
// where the configuration comes from). Each has its own lease (list) or
// consumer group (stream), and its own dead and parked lists.
type Input struct {
	Key    string `yaml:"key"`
	Mode   string `yaml:"mode"`   // list or streams
	Format string `yaml:"format"` // iam
	// Group is the consumer group of a stream; instances in one group share
	// its entries.
	Group string `yaml:"group"`
	// Field is the stream entry's field that holds the record.
	Field string `yaml:"field"`
	// ClaimIdle is how long a stream entry stays pending at a consumer
	// before another takes it over: well above the longest write of the
	// pumps it feeds, or a slow write is delivered twice.
	ClaimIdle Duration `yaml:"claim-idle"`
	// MaxDeliveries is how often a stream entry is delivered before it goes
	// to the dead list with its delivery count.
	MaxDeliveries int64 `yaml:"max-deliveries"`
	// Pumps are the pumps the source feeds (none: every pump).
	Pumps []string `yaml:"pumps,omitempty"`
}

// InputDefaults are applied to every sources[i] before its keys.
func InputDefaults() Input {
	return Input{
		Mode:          ModeList,
		Format:        FormatIAM,
		Group:         "pump",
		Field:         "data",
		ClaimIdle:     Duration(time.Minute),
		MaxDeliveries: 5,
	}
}

// Feeds reports whether the source feeds pump.
func (s Input) Feeds(pump string) bool {
	return len(s.Pumps) == 0 || slices.Contains(s.Pumps, pump)
}

// SourceList is what the daemon drains: the sources, or without any, iam's
// one list analytics-key into every pump, so an iam file needs nothing new.
func (c Config) SourceList() []Input {
	if len(c.Sources) > 0 {
		return c.Sources
	}
	s := InputDefaults()
	s.Key = c.AnalyticsKey
	return []Input{s}
}

// decodeSources reads the sources key of the file: a list of mappings,
// each decoded as strictly as the rest, over InputDefaults.
func decodeSources(raw any) ([]Input, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("sources: want a list of sources, each a mapping with key and mode")
	}
	out := make([]Input, len(list))
	for i, item := range list {
		key := fmt.Sprintf("sources[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a mapping with key and mode", key)
		}
		s := InputDefaults()
		if err := strict.Decode(key, m, &s); err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// validateSources checks each source, and that no two drain one key.
func (c *Config) validateSources() []error {
	var errs []error
	names := slices.Sorted(maps.Keys(c.Pumps))
	seen := map[string]int{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		bad := func(sub, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{key, sub}, args...)...))
		}
		if s.Key == "" {
			bad("key", "must not be empty")
		} else if j, dup := seen[s.Key]; dup {
			bad("key", "%q is sources[%d]'s key already", s.Key, j)
		} else {
			seen[s.Key] = i
		}
		if strings.ContainsAny(s.Key, "{}") {
			// Our keys are {key}.dead and so on: a brace would move them
			// to another cluster slot than the key's.
			bad("key", "must not contain { or }, got %q", s.Key)
		}
		switch s.Mode {
		case ModeList, ModeStreams:
		default:
			bad("mode", "want list or streams, got %q", s.Mode)
		}
		if s.Format != FormatIAM {
			bad("format", "want iam, got %q", s.Format)
		}
		if s.Mode == ModeStreams {
			if s.Group == "" {
				bad("group", "must not be empty")
			}
			if s.Field == "" {
				bad("field", "must not be empty")
			}
		}
		if s.MaxDeliveries < 1 {
			bad("max-deliveries", "must be 1 or more, got %d", s.MaxDeliveries)
		}
		for j, p := range s.Pumps {
			if _, ok := c.Pumps[p]; !ok {
				errs = append(errs, unknownSourcePump(key+".pumps", p, names))
			} else if slices.Index(s.Pumps, p) < j {
				bad("pumps", "%q is named twice", p)
			}
		}
		if s.ClaimIdle.D() <= 0 {
			bad("claim-idle", "must be positive, got %v", s.ClaimIdle.D())
			continue
		}
		if s.Mode != ModeStreams {
			continue
		}
		for _, name := range names {
			if w := c.Pumps[name].WriteTimeout(); s.Feeds(name) && s.ClaimIdle.D() <= w {
				bad("claim-idle", "%v is not above pump %s's write timeout %v: its writes in progress would be claimed and delivered twice", s.ClaimIdle.D(), name, w)
			}
		}
	}
	return errs
}

func unknownSourcePump(key, name string, known []string) error {
	hint := ""
	if s := strict.Nearest(name, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s: no pump named %q%s; configured: %s", key, name, hint, strings.Join(known, ", "))
}
