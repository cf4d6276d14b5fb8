// Package api is the Parley protocol in Go: the OpenRPC document and the
// types, strict decoders, handler interface, notification senders and
// error constructors generated from it (files *_gen.go; run make generate
// after changing parley.openrpc.json).
package api

import _ "embed"

// Document is the OpenRPC document, served by rpc.discover and
// GET /openrpc.json.
//
//go:embed parley.openrpc.json
var Document []byte
