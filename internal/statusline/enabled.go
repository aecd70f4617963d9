package statusline

import "os"

// Wanted reports whether f should get a status line: it is an interactive
// terminal, the run is not in CI, and the terminal can move the cursor.
func Wanted(f *os.File) bool {
	if os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(f)
}
