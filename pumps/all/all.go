// Package all imports every sink that ships with the daemon, so that they
// register themselves. Adding a sink is one line here.
package all

import ()
