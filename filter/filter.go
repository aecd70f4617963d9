package filter

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/pumpd/pump/analytics"
	"github.com/pumpd/pump/internal/strict"
)

// recordEnv is what an expression sees of a record: analytics.Record's fields
// under iam's json names. Timestamp is iam's unix seconds as a time in the
// local zone, like now(), so it compares with now() - duration("1h");
// timestamp.Unix() gives the seconds. Request is the ladon request's JSON
// object; Policies and Deciders stay JSON text.
type recordEnv struct {
	Timestamp  time.Time      `expr:"timestamp"`
	Username   string         `expr:"username"`
	Effect     string         `expr:"effect"`
	Conclusion string         `expr:"conclusion"`
	Request    map[string]any `expr:"request"`
	Policies   string         `expr:"policies"`
	Deciders   string         `expr:"deciders"`
	ExpireAt   time.Time      `expr:"expireAt"`
}

// names are the record's names in an expression, in recordEnv's order.
var names = []string{"timestamp", "username", "effect", "conclusion", "request", "policies", "deciders", "expireAt"}

// Matcher is a compiled expression. A nil Matcher keeps every record. It is
// safe for concurrent use.
type Matcher struct {
	source      string
	program     *vm.Program
	usesRequest bool
	states      sync.Pool // *state: a VM and an Env per evaluation in progress
	problems    atomic.Int64
}

type state struct {
	vm  vm.VM
	env recordEnv
}

// Compile compiles source. An empty (or blank) source is no filter: it
// returns a nil Matcher. A syntax or type error says where, as
// "line L, column C: message".
func Compile(source string) (*Matcher, error) {
	if strings.TrimSpace(source) == "" {
		return nil, nil
	}
	program, err := expr.Compile(source, expr.Env(recordEnv{}), expr.AsBool(), expr.Patch(optionalRequest{}))
	if err != nil {
		return nil, describe(err)
	}
	m := &Matcher{source: source, program: program}
	m.usesRequest = references(program.Node(), "request")
	m.states.New = func() any { return new(state) }
	return m, nil
}

// MustCompile is Compile for an expression already validated (config's
// Validate compiles every filters.expr); it panics on an error.
func MustCompile(source string) *Matcher {
	m, err := Compile(source)
	if err != nil {
		panic(fmt.Sprintf("filter: expression not validated before use: %v", err))
	}
	return m
}

// String returns the expression's source.
func (m *Matcher) String() string {
	if m == nil {
		return ""
	}
	return m.source
}

// UsesRequest reports whether the expression reads the request, the only
// field that costs a parse.
func (m *Matcher) UsesRequest() bool { return m != nil && m.usesRequest }

// Keep reports whether recs[i] passes the expression. parsed holds the
// parsed requests of recs, shared by every pump that filters recs.
//
// An expression that cannot be evaluated on a record (a request field of
// another type than it compares with, such as request.context.n > 5 on a
// string) is false for it, like an expression that evaluates to false; a
// request that is not a JSON object is seen as an empty one. Both are
// counted in Problems, so they are not silent.
func (m *Matcher) Keep(recs []analytics.Record, i int, parsed *Requests) bool {
	if m == nil {
		return true
	}
	r := &recs[i]
	s := m.states.Get().(*state)
	s.env = recordEnv{
		Timestamp: time.Unix(r.TimeStamp, 0), Username: r.Username, Effect: r.Effect, Conclusion: r.Conclusion,
		Policies: r.Policies, Deciders: r.Deciders, ExpireAt: r.ExpireAt,
	}
	if m.usesRequest {
		req, ok := parsed.of(recs, i)
		if !ok {
			m.problems.Add(1)
		}
		s.env.Request = req
	}
	out, err := s.vm.Run(m.program, &s.env)
	s.env = recordEnv{} // hold no record in the pool
	m.states.Put(s)
	keep, isBool := out.(bool)
	if err != nil || !isBool {
		m.problems.Add(1)
		return false
	}
	return keep
}

// Problems counts, since Compile, the evaluations that failed and the
// requests that were not a JSON object.
func (m *Matcher) Problems() int64 {
	if m == nil {
		return 0
	}
	return m.problems.Load()
}

// describe turns expr's error into one line that says where.
func describe(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Line == 0 {
		if strings.HasPrefix(err.Error(), "expected bool") {
			return fmt.Errorf("must be true or false: %w", err)
		}
		return err
	}
	msg := fe.Message
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
		if near := strict.Nearest(name, names); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		} else {
			msg += "; known: " + strings.Join(names, ", ")
		}
	}
	// expr counts columns from 0.
	return fmt.Errorf("line %d, column %d: %s", fe.Line, fe.Column+1, msg)
}

// optionalRequest makes every member access below request optional, so
// request.context.x is nil when the request has no context instead of an
// error: ladon requests differ in their context keys.
type optionalRequest struct{}

func (optionalRequest) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Method || !rootedAt(m.Node, "request") {
		return
	}
	m.Optional = true
	ast.Patch(n, &ast.ChainNode{Node: m})
}

func rootedAt(n ast.Node, name string) bool {
	for {
		switch x := n.(type) {
		case *ast.IdentifierNode:
			return x.Value == name
		case *ast.MemberNode:
			n = x.Node
		case *ast.ChainNode:
			n = x.Node
		default:
			return false
		}
	}
}

// references reports whether the tree names the variable name.
func references(tree ast.Node, name string) bool {
	f := &finder{name: name}
	ast.Walk(&tree, f)
	return f.found
}

type finder struct {
	name  string
	found bool
}

func (f *finder) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && id.Value == f.name {
		f.found = true
	}
}
