// Package pumps is the registry of sinks ("pumps" in iam's words) and the
// interface they implement, Sink. Only sinks live here: the loop is package
// pump, and one configured section of the file is a pump.Output.
//
// Each sink lives in its own folder below this one, registers itself by
// type name in init(), like a database/sql driver, and owns its
// configuration: the meta map of its pumps.<name> section. Every sink
// follows the same conventions: its meta struct is Config; New returns the
// concrete type, unconfigured (the registry wraps it as a Sink, and tests
// reach the sink's own methods without a type assertion); interface guards
// at the bottom of its file name each interface it implements (Sink, and
// JSONWriter, Reopener or Syncer where it does). Package pumps/all imports
// every sink that ships with the daemon.
package pumps
