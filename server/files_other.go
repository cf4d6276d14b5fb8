//go:build !linux

package server

// openFileLimit is unknown here: the file budget admits everything.
func openFileLimit() int { return 0 }

// openFiles is unknown here.
func openFiles() int { return 0 }
