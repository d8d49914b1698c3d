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
// handled out of order, as with Kamailio's UDP children. A panic in a
// Handler is not recovered here.
//
// All readers share one socket. SO_REUSEPORT with a socket per reader was
// rejected: the kernel spreads datagrams over the sockets by a hash of the
// source address and port, so all traffic from one peer (a proxy, an SBC, a
// load generator) lands on one reader and the others stay idle.
//
// Other operating systems get a portable fallback with one ReadFrom and one
// WriteTo per datagram.
package transport
