//go:build unix

package appendfile

import (
	"os"
	"syscall"
)

// links is the file's hard link count: 0 once the file at the path was
// removed (rm during a rotation) while it is still open.
func links(st os.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Nlink)
	}
	return 1
}
