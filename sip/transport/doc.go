// Package transport moves SIP messages between sockets and the router.
//
// UDP is the first transport. A UDP listener owns one socket and a fixed
// number of reader goroutines. Each reader owns one Handler, so a handler may
// keep per-worker state (a script VM, a parsed message, scratch buffers)
// without locking. The hot path is built around the cost of system calls,
// which is most of what a stateless SIP server spends per request:
//
//   - A reader receives up to UDPConfig.Batch datagrams with one recvmmsg(2)
//     call, hands them one by one to its handler, and sends every reply the
//     handler queued on its Writer with one sendmmsg(2) call when the batch
//     is done. Under load this divides the per-syscall cost by the number of
//     datagrams waiting in the socket buffer; with one request in flight it
//     costs the same as plain recvfrom/sendto.
//   - Every buffer (one 64 KiB+1 receive buffer per batch slot, one send
//     arena, the mmsghdr arrays and socket addresses) is allocated once per
//     reader and reused, so receiving, handling and replying allocate nothing.
//   - The socket is an ordinary nonblocking net.UDPConn, and readers wait in
//     the Go netpoller through its RawConn, issuing the raw syscalls
//     themselves. A reader blocked in recvmmsg(2) on a blocking socket was
//     measured too, and cost 1.4 to 2 times more CPU per request: every
//     wait that outlasts a scheduler tick hands the reader's P to another
//     thread and takes it back on wake-up (see README.md).
//
// Datagrams larger than MaxDatagram, or truncated by the kernel, never reach
// the handler: they are counted in Stats.Oversize and dropped, so a handler
// always sees a whole datagram. Empty datagrams are handed over.
//
// Several readers share the socket, so datagrams from one peer may be
// handled out of order, as with Kamailio's UDP children. A reader's sends
// wait for the end of its batch, so a handler that must keep one send
// ahead of another reader's next (tm relaying a provisional reply before
// the final that another reader may relay) flushes its Writer. A panic in
// a Handler is not recovered here.
//
// All readers share one socket. SO_REUSEPORT with a socket per reader was
// rejected: the kernel spreads datagrams over the sockets by a hash of the
// source address and port, so all traffic from one peer (a proxy, an SBC, a
// load generator) lands on one reader and the others stay idle.
//
// Other operating systems get a portable fallback with one ReadFrom and one
// WriteTo per datagram.
//
// # Streams: TCP and TLS
//
// A Streams owns every TCP and TLS listener (Listen), every connection
// accepted or opened (Dial, or Send when none exists), the connection
// table, and the limits of StreamConfig. Each connection is a Conn with
// an id (Kamailio's $conid); a server has one Streams for all its stream
// sockets.
//
//   - Serving: on Linux, connections accepted on plain-TCP listeners are
//     served by Workers poll loops (Kamailio's tcp_children readers),
//     not by a goroutine each. A loop owns a level-triggered epoll set
//     with the listeners (EPOLLEXCLUSIVE: a new connection wakes one
//     loop) and its connections, and waits for it in Go's netpoller, the
//     epoll descriptor being registered there like any socket; it then
//     accepts, reads, frames and dispatches with raw nonblocking calls,
//     which never involve the scheduler or its monitor thread. A
//     connection carrying one request costs about ten system calls and
//     one wake-up per batch of events instead of a goroutine's start,
//     park and wake (sipp -t tn: 33 against 67 us of CPU per request;
//     see README.md). Limits are checked by a sweep of the loop's
//     connections at the earliest due time, at most every 50 ms, not by
//     a timer each. TLS connections, connections kemi opens (Dial), and
//     every connection elsewhere than Linux have a goroutine each that
//     reads with deadlines (crypto/tls reads through a net.Conn).
//   - Framing (StreamFramer) follows RFC 3261 §18.3: the header block ends
//     at the first empty line, and Content-Length bytes of body follow. A
//     message without Content-Length closes the connection unless
//     AcceptNoCL (tcp_accept_no_cl). RFC 5626 keepalives: CRLFCRLF between
//     messages is answered with CRLF, a lone CRLF is skipped. The framer
//     keeps its place, so a header block dribbled in byte by byte is
//     scanned once, and it allocates nothing.
//   - Limits: MaxMessage (headers and body), MessageTimeout (a message's
//     first byte to its last; the TLS handshake too), FirstDataTimeout (an
//     accepted connection that says nothing), IdleTimeout
//     (tcp_connection_lifetime), MaxLifetime, MaxTCP and MaxTLS (at the
//     limit, new connections are accepted and closed at once),
//     ConnectTimeout (TCP connect and TLS handshake), SendTimeout and
//     WriteQueue (a peer that does not read). A peer that breaks one loses
//     its connection and nothing else; StreamStats.Closed* say why.
//   - Memory: an idle TCP connection holds no read buffer and, served by
//     a loop, no goroutine stack; a connection with a goroutine waits in
//     the netpoller through RawConn.Read. Either takes a 4 KiB buffer from
//     a shared free list only when data comes; the buffer grows (to MaxMessage) for a large message, and
//     goes back, or to the garbage collector if it grew, when no message
//     is in progress. A TLS connection keeps its buffer (crypto/tls may
//     hold decrypted data the socket no longer shows).
//   - Writes (Conn.Write, Streams.Send) never wait for the peer: what the
//     kernel does not take at once is queued, up to WriteQueue bytes, and
//     a goroutine started for the occasion sends it within SendTimeout, as
//     Kamailio's tcp_async does. A handler writing to a peer that does not
//     read is never held up.
//   - Handlers: Serve makes Workers StreamHandlers; a connection with a
//     complete message borrows one, calls it on its loop's (or its own)
//     goroutine, and gives it back, so a handler (a script VM) is used by one message at
//     a time and needs no locks, and no goroutine switch is paid per
//     message. The stack a deep handler grows on a connection's goroutine
//     is shrunk back by the garbage collector once it is idle. A panic in
//     a StreamHandler is not recovered here (the router recovers its own).
//   - Reuse, as Kamailio does it: Send tries SendOptions.ConnID (the
//     connection a request came on, or the one a contact registered
//     over), then an open connection to the address (the latest, or one
//     given that address with AddAlias: add_tcp_alias, Via alias), then
//     opens one unless NoConnect (set_reply_no_connect,
//     set_forward_no_connect). CloseAfter closes it once written
//     (set_forward_close, set_reply_close).
//
// TLS configurations come from StreamConfig.TLS (TLSConfigs), asked on
// every handshake; package tlscfg builds them from Kamailio's tls.cfg and
// reloads them. README.md describes how a server plugs all this in.
package transport
