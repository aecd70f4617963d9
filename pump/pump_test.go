package pump

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/config"
	"github.com/pumpd/pump/internal/testing/testutil"
	"github.com/pumpd/pump/pumps"
	"github.com/pumpd/pump/storage"
)

func testBatch(t *testing.T, users ...string) *batch {
	t.Helper()
	var raws [][]byte
	for i, u := range users {
		rec := testutil.MakeRecord(i)
		rec.Username = u
		b, err := analytics.Encode(&rec)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
	}
	raws = append(raws, []byte("undecodable"))
	p := &Loop{queue: storage.NewQueue(nil, "k", "t", time.Second), log: zap.NewNop(), metrics: newMetrics()}
	b := p.decode(raws)
	if len(b.records) != len(users) || len(b.dead) != 1 {
		t.Fatalf("decode: %d records, %d dead", len(b.records), len(b.dead))
	}
	return b
}

func TestEachPumpGetsItsOwnFilteredView(t *testing.T) {
	for _, tc := range []struct {
		name      string
		filters   config.Filters
		omit      bool
		wantUsers []string
	}{
		{"no filters", config.Filters{}, false, []string{"a", "b", "c", "a"}},
		{"only some users", config.Filters{Usernames: []string{"a"}}, false, []string{"a", "a"}},
		{"skip some users", config.Filters{SkipUsernames: []string{"a"}}, false, []string{"b", "c"}},
		{"both", config.Filters{Usernames: []string{"a", "b"}, SkipUsernames: []string{"b"}}, false, []string{"a", "a"}},
		{"omit details", config.Filters{}, true, []string{"a", "b", "c", "a"}},
		// MakeRecord denies records 0 and 3; record i's request names user-i.
		{"expression", config.Filters{Expr: `effect == "deny"`}, false, []string{"a", "a"}},
		{"expression and usernames", config.Filters{Usernames: []string{"a", "b"}, Expr: `effect != "deny"`}, false, []string{"b"}},
		{"expression and skip", config.Filters{SkipUsernames: []string{"b"}, Expr: `request.subject != "users:user-0"`}, false, []string{"c", "a"}},
		{"expression on the request", config.Filters{Expr: `request.subject == "users:user-1"`}, false, []string{"b"}},
		// The expression sees the record as read, before details are omitted.
		{"expression and omit details", config.Filters{Expr: `policies != ""`}, true, []string{"a", "b", "c", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBatch(t, "a", "b", "c", "a")
			pc := config.PumpDefaults()
			pc.Filters = tc.filters
			pc.OmitDetailedRecording = tc.omit
			out := &Output{Name: "x", Config: pc}
			New(Options{Settings: defaultSettings(), Outputs: []*Output{out}})
			recs, idx := out.view(b)
			var users []string
			for i, r := range recs {
				users = append(users, r.Username)
				if b.records[idx[i]].Username != r.Username {
					t.Errorf("index %d points at %q, not %q", i, b.records[idx[i]].Username, r.Username)
				}
				if tc.omit != (r.Policies == "" && r.Deciders == "") {
					t.Errorf("omit=%v but record has policies %q", tc.omit, r.Policies)
				}
			}
			if fmt.Sprint(users) != fmt.Sprint(tc.wantUsers) {
				t.Errorf("users %v, want %v", users, tc.wantUsers)
			}
			// The view is a copy: changing it leaves the shared batch alone.
			if len(recs) > 0 {
				recs[0].Username = "changed"
				if b.records[idx[0]].Username == "changed" {
					t.Error("the view shares records with the batch")
				}
			}
		})
	}
}

// Two pumps filtering on the request parse it once per record between
// them; a pump whose expression does not read it parses nothing.
func TestPumpsShareTheParsedRequests(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exprs []string
		want  int64
	}{
		{"two on the request", []string{`request.action == "delete"`, `request.subject endsWith "-2"`}, 4},
		{"none on the request", []string{`effect == "deny"`, ``}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBatch(t, "a", "b", "c", "a")
			var outs []*Output
			for i, e := range tc.exprs {
				pc := config.PumpDefaults()
				pc.Filters.Expr = e
				outs = append(outs, &Output{Name: fmt.Sprint("p", i), Config: pc})
			}
			New(Options{Settings: defaultSettings(), Outputs: outs})
			for _, out := range outs {
				out.view(b)
			}
			if n := b.requests.Parsed(); n != tc.want {
				t.Errorf("parsed %d requests, want %d", n, tc.want)
			}
		})
	}
}

// A reload that keeps a pump's expression keeps its matcher and counts;
// a changed expression is compiled anew.
func TestUpdateCompilesOnlyAChangedExpression(t *testing.T) {
	pc := config.PumpDefaults()
	pc.Filters.Expr = `effect == "deny"`
	out := &Output{Name: "x", Config: pc}
	p := New(Options{Settings: defaultSettings(), Outputs: []*Output{out}})
	first := out.match
	p.Update(defaultSettings(), []*Output{out})
	if out.match != first {
		t.Error("an unchanged expression was compiled again")
	}
	out.Config.Filters.Expr = `effect == "allow"`
	p.Update(defaultSettings(), []*Output{out})
	if out.match == first || out.match.String() != `effect == "allow"` {
		t.Errorf("matcher %q after the expression changed", out.match)
	}
	out.Config.Filters.Expr = ""
	p.Update(defaultSettings(), []*Output{out})
	if out.match != nil {
		t.Errorf("matcher %q after the expression was removed", out.match)
	}
}

func TestBackoffGrowsWithJitterAndIsBounded(t *testing.T) {
	for n := 0; n < 20; n++ {
		d := backoff(n)
		base := min(100*time.Millisecond<<min(n, 6), 5*time.Second)
		if d < base/2 || d > base {
			t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, base/2, base)
		}
	}
}

// scriptedSink returns the next error of its script on each Write (nil
// once the script is used up). It is the loop's own interface, not a
// stand-in for a server.
type scriptedSink struct {
	mu     sync.Mutex
	script []error
	writes int
}

func (s *scriptedSink) Configure(pumps.Meta) error  { return nil }
func (s *scriptedSink) Init(context.Context) error  { return nil }
func (s *scriptedSink) Close(context.Context) error { return nil }
func (s *scriptedSink) Write(_ context.Context, _ []analytics.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if len(s.script) == 0 {
		return nil
	}
	err := s.script[0]
	s.script = s.script[1:]
	return err
}

func TestDeliverClassifiesWhatTheSinkSays(t *testing.T) {
	transient := errors.New("connection refused")
	for _, tc := range []struct {
		name                            string
		script                          []error
		budget                          time.Duration
		wantWritten, wantDead, wantPark int
		wantWrites                      int
	}{
		{"success", nil, time.Second, 3, 0, 0, 1},
		{"transient then success", []error{transient, transient}, 10 * time.Second, 3, 0, 0, 3},
		{"permanent: all dead", []error{pumps.Permanent(errors.New("schema"))}, time.Second, 0, 3, 0, 1},
		{"rejected: those dead, the rest written",
			[]error{&pumps.RejectedError{Rejections: []pumps.Rejection{{Index: 1, Err: errors.New("too big")}}}}, time.Second, 2, 1, 0, 1},
		{"transient past the budget: parked", []error{transient, transient, transient, transient, transient}, 0, 0, 0, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &scriptedSink{script: tc.script}
			pc := config.PumpDefaults()
			pc.MaxRetryTime = config.Duration(tc.budget)
			out := &Output{Name: "x", Sink: sink, Config: pc}
			p := New(Options{Settings: defaultSettings(), Queue: storage.NewQueue(nil, "k", "t", time.Second),
				Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
			b := testBatch(t, "a", "b", "c")
			s := out.newShare(b)
			p.deliver(context.Background(), out, s, deliverPolicy{budget: tc.budget})
			if s.unfinished {
				t.Fatal("deliver ended unfinished")
			}
			parked := len(s.parked)
			if got := int(out.Stats.Written.Load()); got != tc.wantWritten {
				t.Errorf("written %d, want %d", got, tc.wantWritten)
			}
			if got := len(s.dead); got != tc.wantDead {
				t.Errorf("dead letters %d, want %d", got, tc.wantDead)
			}
			if parked != tc.wantPark {
				t.Errorf("parked %d, want %d", parked, tc.wantPark)
			}
			if sink.writes != tc.wantWrites {
				t.Errorf("%d writes, want %d", sink.writes, tc.wantWrites)
			}
		})
	}
}

func TestDeliverGivesUpAtTheShutdownDeadlineWithoutParking(t *testing.T) {
	sink := &scriptedSink{script: []error{errors.New("down"), errors.New("down"), errors.New("down")}}
	out := &Output{Name: "x", Sink: sink, Config: config.PumpDefaults()}
	p := New(Options{Settings: defaultSettings(), Queue: storage.NewQueue(nil, "k", "t", time.Second),
		Outputs: []*Output{out}, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := out.newShare(testBatch(t, "a"))
	p.deliver(ctx, out, s, deliverPolicy{budget: time.Minute})
	if !s.unfinished {
		t.Fatal("deliver finished after the shutdown deadline, want it unfinished")
	}
	if len(s.parked) != 0 {
		t.Fatal("records parked at shutdown: they must stay at the head instead")
	}
}

// jsonSink is a scriptedSink that says it writes analytics.AppendJSON's bytes.
type jsonSink struct{ scriptedSink }

func (*jsonSink) WritesRecordJSON() {}

func TestTwoJSONPumpsShareOneEncodingOfEachRecord(t *testing.T) {
	type pump struct {
		json, omit bool
	}
	for _, tc := range []struct {
		name   string
		pumps  []pump
		shared bool
	}{
		{"one JSON pump encodes its own", []pump{{json: true}}, false},
		{"a JSON pump beside another kind", []pump{{json: true}, {}}, false},
		{"two JSON pumps", []pump{{json: true}, {json: true}}, true},
		{"two JSON pumps, one omitting details", []pump{{json: true}, {json: true, omit: true}}, false},
		{"three JSON pumps, one omitting details", []pump{{json: true}, {json: true, omit: true}, {json: true}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outs []*Output
			for i, pc := range tc.pumps {
				cfg := config.PumpDefaults()
				cfg.OmitDetailedRecording = pc.omit
				var sink pumps.Sink = &scriptedSink{}
				if pc.json {
					sink = &jsonSink{}
				}
				outs = append(outs, &Output{Name: fmt.Sprint("p", i), Sink: sink, Config: cfg})
			}
			p := New(Options{Settings: defaultSettings(), Queue: storage.NewQueue(nil, "k", "t", time.Second),
				Outputs: outs, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
			raws := make([][]byte, 0, 4)
			for i := range 4 {
				rec := testutil.MakeRecord(i)
				if i == 2 { // JSON cannot hold it: each pump must meet the error itself
					rec.ExpireAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
				}
				raw, err := analytics.Encode(&rec)
				if err != nil {
					t.Fatal(err)
				}
				raws = append(raws, raw)
			}
			b := p.decode(raws)
			if p.shareJSON {
				p.shareEncoding(b)
			}
			for i, out := range outs {
				recs, _ := out.view(b)
				for j := range recs {
					r := recs[j]
					if want := tc.shared && !tc.pumps[i].omit && j != 2; (r.JSON != nil) != want {
						t.Fatalf("pump %d record %d: has shared JSON = %v, want %v", i, j, r.JSON != nil, want)
					}
					got, gotErr := analytics.AppendJSON(nil, &r)
					fresh := r
					fresh.JSON = nil
					want, wantErr := analytics.AppendJSON(nil, &fresh)
					if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
						t.Fatalf("pump %d record %d: AppendJSON = %s, %v; encoding afresh gives %s, %v", i, j, got, gotErr, want, wantErr)
					}
					if tc.pumps[i].omit && gotErr == nil && !strings.Contains(string(got), `"policies":"","deciders":""`) {
						t.Fatalf("pump %d omits details but wrote %s", i, got)
					}
				}
			}
		})
	}
}

func TestTheSharedJSONBufferIsReusedOnlyAfterItsBatch(t *testing.T) {
	var outs []*Output
	for i := range 2 {
		outs = append(outs, &Output{Name: fmt.Sprint("p", i), Sink: &jsonSink{}, Config: config.PumpDefaults()})
	}
	p := New(Options{Settings: defaultSettings(), Queue: storage.NewQueue(nil, "k", "t", time.Second),
		Outputs: outs, Logger: zap.NewNop(), Health: NewHealth(time.Hour)})
	decode := func(from, to int) *batch {
		var raws [][]byte
		for i := from; i < to; i++ {
			raws = append(raws, testutil.EncodedRecord(t, i))
		}
		b := p.decode(raws)
		p.shareEncoding(b)
		return b
	}
	first := decode(0, 50)
	second := decode(50, 100) // in flight together: separate buffers
	if &first.json[:1][0] == &second.json[:1][0] {
		t.Fatal("two batches in flight share one JSON buffer")
	}
	firstBuf := &first.json[:1][0]
	p.recycle(first)
	third := decode(100, 150)
	if &third.json[:1][0] != firstBuf {
		t.Error("the third batch did not reuse the trimmed first batch's buffer")
	}
	for _, b := range []*batch{second, third} {
		for i := range b.records {
			r := b.records[i]
			fresh := r
			fresh.JSON = nil
			want, _ := analytics.AppendJSON(nil, &fresh)
			if string(r.JSON) != string(want) {
				t.Fatalf("record %s carries %s, want %s", testutil.IDOf(r), r.JSON, want)
			}
		}
	}
}

// defaultSettings are the loop's settings from the default configuration.
func defaultSettings() Settings { return SettingsOf(config.Default(), 30*time.Second) }
