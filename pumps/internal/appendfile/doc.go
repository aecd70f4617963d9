// Package appendfile is the durable append used by the file sinks: a batch
// is written through a buffer and flushed before Append returns, Sync
// fdatasyncs what Appends wrote before it (one sync for several batches:
// group commit), and a batch that fails half-way is cut off again so a retry leaves no
// torn or doubled lines. It follows the path through log rotation: a file
// moved or removed under it is left for the one at the path, and a batch
// that went to a removed file is written again.
package appendfile
