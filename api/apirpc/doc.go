// Package apirpc binds the protocol's Handler (package api) to the server's
// JSON-RPC runtime (package rpc): Register, generated into register_gen.go
// from api/parley.openrpc.json. It lives apart from api so that clients,
// which link the protocol's types, do not link the server's runtime.
package apirpc
