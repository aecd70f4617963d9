// Package pump is the drain loop: it holds the lease on the analytics list,
// reads the head in bounded batches several at a time, decodes them, fans
// each batch out to every configured sink and trims it from Redis only when
// all of them have it (or it was parked or dead-lettered with the reason).
// It also holds what stopping needs: the signal handler, the shutdown
// manager and the health state the HTTP probes report.
package pump
