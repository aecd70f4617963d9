package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestWithoutSourcesIAMsListFeedsEveryPump(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{"pumps: {d: {type: dummy}}\n", "analytics-iam-system-analytics"},
		{"analytics-key: other\npumps: {d: {type: dummy}}\n", "other"},
	} {
		cfg, err := Parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		got := cfg.SourceList()
		want := InputDefaults()
		want.Key = tc.key
		if len(cfg.Sources) != 0 || !reflect.DeepEqual(got, []Input{want}) {
			t.Fatalf("%q: sources %+v, SourceList %+v; want none and %+v", tc.text, cfg.Sources, got, want)
		}
		if !got[0].Feeds("d") || got[0].Mode != ModeList {
			t.Fatalf("the default source: %+v", got[0])
		}
	}
	// iam's own file, with nothing new in it.
	cfg, _, err := Load(Source{Path: "testdata/iam-pump.yaml", LookupEnv: env(map[string]string{"REDIS_HOST": "r", "REDIS_PORT": "6379"})})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.SourceList(); len(s) != 1 || s[0].Key != cfg.AnalyticsKey || s[0].Mode != ModeList {
		t.Fatalf("iam's file: sources %+v", s)
	}
}

func TestSourcesTakeDefaultsForWhatTheyOmit(t *testing.T) {
	list := InputDefaults()
	list.Key = "analytics-iam-system-analytics"
	stream := Input{Key: "events", Mode: ModeStreams, Format: FormatIAM, Group: "eu", Field: "rec",
		ClaimIdle: Duration(5 * time.Minute), MaxDeliveries: 3, Pumps: []string{"b"}}
	for _, tc := range []struct {
		sources string
		want    Input
	}{
		{"  - key: analytics-iam-system-analytics\n", list},
		{"  - key: events\n    mode: streams\n    group: eu\n    field: rec\n    claim-idle: 5m\n    max-deliveries: 3\n    pumps: [b]\n", stream},
	} {
		cfg, err := Parse("pumps: {a: {type: dummy}, b: {type: dummy}}\nsources:\n" + tc.sources)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Input{tc.want}; !reflect.DeepEqual(cfg.SourceList(), want) {
			t.Fatalf("sources\n  %+v\nwant\n  %+v", cfg.SourceList(), want)
		}
		if feedsA := len(tc.want.Pumps) == 0; cfg.Sources[0].Feeds("a") != feedsA || !cfg.Sources[0].Feeds("b") {
			t.Fatal("Feeds does not follow the pumps list")
		}
		if _, ok := cfg.RedactedMap()["sources"]; !ok {
			t.Fatal("validate --print would leave the sources out")
		}
	}
	if d := InputDefaults(); d.Group != "pump" || d.Field != "data" || d.ClaimIdle.D() != time.Minute || d.MaxDeliveries != 5 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestSourceErrorsNameTheKey(t *testing.T) {
	const pumps = "pumps: {d: {type: dummy}, slow: {type: dummy, timeout: 90}}\n"
	for _, tc := range []struct {
		name, sources, want string
	}{
		{"mode", "[{key: a}, {key: b, mode: stream}]", `sources[1].mode: want list or streams, got "stream"`},
		{"unknown pump", "[{key: a, pumps: [mongo]}]", `sources[0].pumps: no pump named "mongo"; configured: d, slow`},
		{"pump typo", "[{key: a, pumps: [d, slwo]}]", `sources[0].pumps: no pump named "slwo" (did you mean "slow"?)`},
		{"pump twice", "[{key: a, pumps: [d, d]}]", `sources[0].pumps: "d" is named twice`},
		{"duplicate key", "[{key: a}, {key: b}, {key: a, mode: streams}]", `sources[2].key: "a" is sources[0]'s key already`},
		{"empty key", "[{mode: list}]", `sources[0].key: must not be empty`},
		{"brace in key", "[{key: 'a{b}'}]", `sources[0].key: must not contain { or }, got "a{b}"`},
		{"format", "[{key: a, format: tyk}]", `sources[0].format: want iam, got "tyk"`},
		{"group", "[{key: a, mode: streams, group: ''}]", `sources[0].group: must not be empty`},
		{"field", "[{key: a, mode: streams, field: ''}]", `sources[0].field: must not be empty`},
		{"max deliveries", "[{key: a, max-deliveries: 0}]", `sources[0].max-deliveries: must be 1 or more, got 0`},
		{"claim idle", "[{key: a, claim-idle: 0}]", `sources[0].claim-idle: must be positive, got 0s`},
		{"claim idle below a write", "[{key: a, mode: streams, claim-idle: 1m}]",
			`sources[0].claim-idle: 1m0s is not above pump slow's write timeout 1m30s`},
		{"claim idle type", "[{key: a, claim-idle: soon}]", `sources[0].claim-idle: want a duration such as 30s`},
		{"unknown key", "[{key: a, grup: eu}]", `sources[0].grup: unknown key (did you mean "group"?)`},
		{"not a list", "{key: a}", `sources: want a list of sources`},
		{"not a mapping", "[a]", `sources[0]: want a mapping with key and mode`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(pumps + "sources: " + tc.sources + "\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSourcesAreValidWhenTheyAre(t *testing.T) {
	for _, sources := range []string{
		"[{key: a}]",
		// A list's entries are never claimed: its claim-idle is unused.
		"[{key: a, claim-idle: 1s}]",
		"[{key: a, mode: streams, pumps: [d]}]",
		"[{key: a, mode: streams, claim-idle: 2m}]",
		// Several, each feeding its own pumps or all of them.
		"[{key: a}, {key: b, mode: streams, claim-idle: 2m}, {key: c, pumps: [d]}]",
	} {
		if _, err := Parse("pumps: {d: {type: dummy}, slow: {type: dummy, timeout: 90}}\nsources: " + sources + "\n"); err != nil {
			t.Errorf("%s: %v", sources, err)
		}
	}
}

func TestEverySourceProblemIsReported(t *testing.T) {
	_, err := Parse("pumps: {d: {type: dummy}}\nsources: [{key: a, mode: x}, {key: a, format: y}]\n")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"sources[0].mode:", "sources[1].key:", "sources[1].format:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from:\n%v", want, err)
		}
	}
}
