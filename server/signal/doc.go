// Package signal is Parley's signaling state machine: sessions (their
// lifecycle, logs and resume), rooms, seats and roles, the pair logic
// (glare, held candidates, ICE-restart limits), calls, presence, the
// duplicate policies, the caps on what a client can make the node hold,
// and the timers. It knows no transport: it reaches a connection through
// Conn (deliver a frame, close), and imports only api and the standard
// library.
//
// The state sits behind a Store (memory: package memstore; Redis, shared
// by the nodes of a cluster: package redisstore). Every operation is one transaction: the core reads records and
// indexes through a Tx, computes the change in Go, and the Tx commits the
// writes, the notifications (each stamped with its recipient's next seq
// and appended to its log) and the timers at once. DESIGN.md, beside this
// file, is the contract a store keeps.
//
// Concurrency. The core keeps no state of its own beyond Drain's flag, so
// the rule is the store's: a transaction sees its reads and writes alone
// (the memory store runs one transaction at a time under one mutex). The
// lock order is Core.drainMu (taken by Open and Drain only, node-local),
// then the store's, then a connection's (rpc.Conn queues without
// blocking); nothing is called back while the store is locked except
// Conn's methods and Config.ICEServers, which take no lock of the core's.
package signal
