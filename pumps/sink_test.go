package pumps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pumpd/pump/analytics"
)

type nopSink struct{}

func (nopSink) Configure(Meta) error                            { return nil }
func (nopSink) Init(context.Context) error                      { return nil }
func (nopSink) Write(context.Context, []analytics.Record) error { return nil }
func (nopSink) Close(context.Context) error                     { return nil }
func newNop() Sink                                              { return nopSink{} }
func mustPanic(t *testing.T, what string, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("%s did not panic", what)
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

func nopConfig(Sink) any { return struct{}{} }

func TestRegisterRefusesProgrammingErrors(t *testing.T) {
	Register(Info{Type: "test-registry-b", New: newNop, Config: nopConfig})
	Register(Info{Type: "test-registry-a", New: newNop, Config: nopConfig})
	for _, tc := range []struct {
		name string
		info Info
		want string
	}{
		{"no name", Info{New: newNop, Config: nopConfig}, "needs a type name"},
		{"no constructor", Info{Type: "test-registry-c", Config: nopConfig}, "needs a type name, a constructor"},
		{"no Config", Info{Type: "test-registry-c", New: newNop}, "and its Config"},
		{"taken name", Info{Type: "test-registry-a", New: newNop, Config: nopConfig}, "called twice for type test-registry-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := mustPanic(t, "Register", func() { Register(tc.info) }); !strings.Contains(msg, tc.want) {
				t.Fatalf("panic %q, want it to say %q", msg, tc.want)
			}
		})
	}
	if _, ok := Lookup("test-registry-c"); ok {
		t.Error("a refused registration is listed")
	}
	if info, ok := Lookup("test-registry-a"); !ok || info.Type != "test-registry-a" {
		t.Errorf("Lookup(test-registry-a) = %+v, %v", info, ok)
	}
	types := strings.Join(Types(), ",")
	if !strings.Contains(types, "test-registry-a,test-registry-b") {
		t.Errorf("Types() = %s, want sorted names", types)
	}
}

func TestPermanentSurvivesWrappingAndNilStaysNil(t *testing.T) {
	base := errors.New("schema mismatch")
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"plain error is transient", base, false},
		{"marked", Permanent(base), true},
		{"marked, then wrapped", fmt.Errorf("mongo: %w", Permanent(base)), true},
		{"nil", Permanent(nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.permanent {
				t.Fatalf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.permanent)
			}
			if tc.err != nil && !errors.Is(tc.err, base) {
				t.Fatalf("%v does not unwrap to the original error", tc.err)
			}
		})
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
}

func TestRejectedErrorSaysHowManyAndTheFirstReason(t *testing.T) {
	err := &RejectedError{Rejections: []Rejection{{Index: 3, Err: errors.New("too big")}, {Index: 7, Err: errors.New("bad")}}}
	if got := err.Error(); got != "2 records rejected, first: too big" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestDurationAcceptsGoDurationsAndIAMSeconds(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
		err  string
	}{
		{"30s", 30 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"5", 5 * time.Second, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{"soon", 0, `got "soon"`},
		{"[1, 2]", 0, "want a duration"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tc.yaml), &d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Unmarshal(%s) = %v, want an error with %q", tc.yaml, err, tc.err)
				}
				return
			}
			if err != nil || d.D() != tc.want {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", tc.yaml, d.D(), err, tc.want)
			}
			out, err := yaml.Marshal(d)
			if err != nil || strings.TrimSpace(string(out)) != tc.want.String() {
				t.Fatalf("Marshal = %q, %v; want %s", out, err, tc.want)
			}
		})
	}
}

func TestDecodeMetaNamesTheKey(t *testing.T) {
	var dst struct {
		Dir     string   `yaml:"csv_dir"`
		Timeout Duration `yaml:"timeout"`
	}
	for _, tc := range []struct {
		meta Meta
		want string
	}{
		{Meta{"csv_dir": map[string]any{"a": 1}}, "meta.csv_dir"},
		{Meta{"csv_dri": "/tmp"}, `meta.csv_dri: unknown key (did you mean "csv_dir"?)`},
		{Meta{"timeout": "soon"}, "meta.timeout"},
	} {
		err := DecodeMeta(tc.meta, &dst)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeMeta(%v) = %v, want an error with %q", tc.meta, err, tc.want)
		}
	}
	if err := DecodeMeta(Meta{"csv_dir": "/tmp", "timeout": 2}, &dst); err != nil || dst.Dir != "/tmp" || dst.Timeout.D() != 2*time.Second {
		t.Fatalf("DecodeMeta of good meta = %v, %+v", err, dst)
	}
}
