// Package storage is the pump's Redis side: the client for every topology
// (standalone, sentinel, cluster, TLS), and the fenced queue protocol on the
// analytics list: a lease that one instance holds, reads of the head that
// remove nothing, and a trim script that removes a batch only while the
// lease is held and the head is what was read, pushing that batch's dead
// letters and parked records in the same step.
package storage
