// Package web holds the pages Parley serves beside its API: the RPC
// inspector at /inspector (always) and the demo at /demo (dev mode). They are
// plain HTML and JavaScript modules that load the TypeScript client from
// /client/, so they need no build step of their own.
package web

import (
	"embed"
	"io/fs"
)

//go:embed demo inspector
var files embed.FS

// Favicon is the pages' icon (a PNG inside an ICO), served at /favicon.ico,
// which browsers request for every page.
//
//go:embed favicon.ico
var Favicon []byte

// (fs.Sub fails only on an invalid path name.)
var (
	// Demo is the demo page: two tabs join a room and talk over WebRTC.
	Demo, _ = fs.Sub(files, "demo")
	// Inspector is the RPC inspector: sessions side by side, forms from
	// the schema, a frame log, and a TURN check.
	Inspector, _ = fs.Sub(files, "inspector")
)
