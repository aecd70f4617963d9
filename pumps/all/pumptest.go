//go:build pumptest

package all

// The fault-injection sink, only in binaries built for tests.
import _ "github.com/pumpd/pump/pumps/faulty"
