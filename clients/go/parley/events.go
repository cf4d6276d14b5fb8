package parley

// notification is one server notification waiting for its hooks. The read
// loop hands them to the one goroutine that runs the hooks, in arrival
// order, through Client.events: an unbounded serial.Queue, so that a slow
// hook never stops the read loop, which also reads the responses that
// hooks' own calls wait for.
type notification struct {
	method string
	params []byte
}
