// Package acceptloop is the accept loop that the device servers (usbip and
// serialfwd) share, so that they back off, stop and wait the same way.
//
// A [Loop] belongs to one server. [Loop.Serve] accepts connections on a
// listener and runs a handler for each in its own goroutine; [Loop.Track]
// counts a connection the embedder accepted itself; [Loop.Close] stops
// everything and waits. What the loop promises:
//
//   - Temporary accept errors (a net.Error whose Timeout or Temporary
//     method reports true, such as EMFILE) are retried after a pause that
//     starts at 5ms, doubles up to 1s and resets after the next accepted
//     connection, the policy net/http uses. Any other accept error ends
//     Serve with that error, wrapped as "<name>: accept: ...".
//   - Serve returns nil when Close stopped it, and ErrClosed (or the
//     server's own sentinel, Options.ErrClosed) when called on a loop
//     already closed. It always closes its listener before it returns.
//   - Close closes every listener, cancels the context handlers run with,
//     closes every connection still being served, and waits until every
//     Serve call, handler and tracked connection has finished. It is safe
//     to call more than once.
//
// All methods are safe for concurrent use.
package acceptloop
