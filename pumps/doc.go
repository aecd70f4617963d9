// Package pumps is the registry of sinks ("pumps" in iam's words) and the
// interface they implement. Each sink lives in its own folder below this one,
// registers itself by type name in init(), like a database/sql driver, and
// owns its configuration: the meta map of its pumps.<name> section.
// Package pumps/all imports every sink that ships with the daemon.
package pumps
