package main

import "slices"

// The filter lines: the jsonl line again with a filters.expr on its pump.
// Each expression passes every seeded record, so the line writes what the
// plain jsonl line writes and its ratio to that line is the cost of the
// expression alone (one that kept a fifth would write less and hide it).
var filterSinks = []benchSink{
	// The seeded records are allow or deny: both comparisons run for most.
	{name: "jsonl-expr-effect", typ: "jsonl", setup: withFilter(setupJSONL, `effect == "deny" || effect == "allow"`)},
	// Every seeded request's action is delete: each request's JSON is parsed.
	{name: "jsonl-expr-request", typ: "jsonl", setup: withFilter(setupJSONL, `request.action == "delete"`)},
}

// withFilter gives the pumps of setup's target the expression expr.
func withFilter(setup func(*env, int) (*target, error), expr string) func(*env, int) (*target, error) {
	return func(e *env, n int) (*target, error) {
		t, err := setup(e, n)
		if err != nil {
			return nil, err
		}
		t.filterExpr = expr
		t.server += ", filters.expr " + expr
		return t, nil
	}
}

// The filter lines follow the jsonl line they compare with.
func init() {
	i := slices.IndexFunc(sinks, func(b benchSink) bool { return b.name == "jsonl" })
	sinks = slices.Insert(sinks, i+1, filterSinks...)
}
