// Package produce writes analytics records to Redis in iam's exact wire
// encoding, to a list (RPUSH, as iam's servers do) or to a stream (XADD, for
// a source in streams mode), pipelined: for services moving off lists, and
// for tests and demos, with a generator of distinct synthetic records.
package produce
