// Package filter compiles a pump's filters.expr, a boolean expression over
// an analytics record (github.com/expr-lang/expr), and evaluates it on the
// records of a batch. The request's JSON is parsed only for expressions that
// use it, and at most once per record of a batch for all the pumps.
//
// It sits beside the loop rather than in it: config compiles expressions to
// validate them and the loop evaluates them, and config must not import the
// loop.
package filter
