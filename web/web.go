// Package web holds the pages Parley serves beside its API: the demo at
// /demo (dev mode). They are plain HTML and JavaScript modules that load the
// TypeScript client from /client/, so they need no build step of their own.
package web

import (
	"embed"
	"io/fs"
)

//go:embed demo
var files embed.FS

// Demo is the demo page: two tabs join a room and talk over WebRTC.
// (fs.Sub fails only on an invalid path name.)
var Demo, _ = fs.Sub(files, "demo")
