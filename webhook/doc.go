// Package webhook delivers Parley's events to app backends as Standard
// Webhooks (signed POSTs, https://www.standardwebhooks.com) and keeps the
// latest ones for admin.events.list. It knows HTTP and the signing scheme,
// nothing of rooms or sessions: the signaling store hands it the events
// its commits numbered (signal.EventSink), and package server wires the
// two. The event types and what their data carries are package signal's
// (events.go).
//
// A room's events are delivered in order, per URL: the next goes once the
// previous got a 2xx or was given up. Different rooms (and sessions) go in
// parallel. Memory is bounded: a queue per URL (a full one drops its
// oldest event) and a retained log of the latest events.
package webhook
