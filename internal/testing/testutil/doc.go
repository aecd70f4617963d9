// Package testutil holds what the tests share: real redis-server processes
// on free loopback ports that a test can kill and restart, the pump binary
// built from source and run as a child process, seeded iam records with
// unique ids, and polling with a deadline instead of sleeping.
package testutil
