// Package tsclient embeds the built TypeScript client (dist/, native ES
// modules) so the server can serve it at /client/ to its own pages and to
// any page that would rather load it from Parley than from npm.
package tsclient

import (
	"embed"
	"io/fs"
)

//go:embed dist/*.js dist/*.d.ts dist/gen/*.js dist/gen/*.d.ts
var dist embed.FS

// Dist is dist/: index.js is the package entry point. (fs.Sub fails only
// on an invalid path name.)
var Dist, _ = fs.Sub(dist, "dist")
