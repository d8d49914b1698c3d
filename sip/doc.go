// Package sip parses, edits and answers SIP messages (RFC 3261) for a
// proxy that forwards most messages almost untouched.
//
// # Parsing
//
// A Msg indexes one message in place. Parse reads the first line, finds
// where each header line starts and ends (following folded lines) and gives
// each line a small id when its name is known (compact forms included:
// i, m, e, l, c, f, s, k, t, v, o, u, r, x, y, b). The index is a fixed
// array of MaxHeaders entries inside Msg, so Parse allocates nothing; a
// message with more header lines, or over MaxMessageSize bytes, is
// rejected with a *ParseError that gives the offset and the reason.
//
// Parse treats the buffer as one datagram: the body is Content-Length bytes
// after the empty line (bytes after that are ignored, RFC 3261 §18.3); a
// Content-Length larger than what is there is an error; with no
// Content-Length the body is the rest of the buffer. CRLFs before the start
// line are skipped (RFC 3261 §7.5); a buffer of only CRLFs is a keep-alive
// ping (IsKeepAlive), not a message.
//
// On a stream (TCP, TLS) MessageLen finds where each message ends, by
// Content-Length, before Parse is called on it; SkipKeepAlive drops the
// CRLF pings between messages.
//
// Header values are parsed only when asked for, and what comes back are
// slices of the buffer, never copies:
//
//	m.TopVia(), m.Vias()            Via values (sent-by, branch, received, rport, maddr, ttl)
//	m.From(), m.To()                NameAddr: display name, URI, tag, params
//	m.FromTag(), m.ToTag(), m.ViaBranch()
//	m.CallID(), m.CSeq(), m.MaxForwards(), m.Expires(), m.ContentLength()
//	m.Contacts(), m.Routes(), m.RecordRoutes()   iterators over name-addr lists
//	m.Credentials(HdrAuthorization) ...          Digest credentials and challenges
//	m.Header(name), m.Lines(name), m.Values(name) any header by name
//
// Iterators are structs with Next methods and allocate nothing:
//
//	it := m.Contacts()
//	for it.Next() {
//		c := it.Contact()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//
// After a failed Parse only Raw is meaningful; the reads do not panic but
// return partial data.
//
// Parse checks only the framing and the first line. Validate checks what a
// proxy checks before routing (SIP/2.0, one To, From, Call-ID and CSeq, the
// CSeq method, every Via, name-addr and URI syntax, extra whitespace in the
// request line) and says which status to answer with: 400, or 505 for
// another version. The RFC 4475 and RFC 5118 torture messages in testdata
// show, message by message, which of the two rejects what.
//
// Nothing from the network makes the package panic; the fuzz targets
// FuzzParseMsg and FuzzParseURI check that, and that a message written out
// with AppendTo parses back to the same header lines and body.
//
// ParseURI parses sip, sips and tel URIs; URIEqual compares them as
// RFC 3261 §19.1.4 says.
//
// # Edits
//
// Edits are recorded, not applied: SetRequestURI, SetMaxForwards, SetBody,
// RemoveHeader, RemoveHeaderAt, RemoveValue, InsertHeaderBefore/After,
// AddHeaderBefore/After, AppendHeader, SetHeaderValue, Replace (any range,
// found with OffsetOf from a slice a read returned), PrependVia, RemoveTopVia,
// AddRecordRoute and AddViaReceived each store a delete or an insert
// against an offset in the original buffer (a "lump", as Kamailio calls
// it). AppendTo writes the message with every edit applied, in one pass.
// Bytes inserted are copied into a buffer the Msg reuses, so steady-state
// editing does not allocate either. At most MaxEdits header and body edits
// can be pending (ErrTooManyEdits after that). Edits apply in buffer order;
// an insert that lands inside text an earlier edit deleted is dropped, so
// contradictory edits still give a well-formed message.
//
// What a read sees while edits are pending:
//
//   - RequestURI, MaxForwards and Body return the new values at once
//     (OriginalRequestURI keeps the received one).
//   - Every other read (Header, TopVia, From, Contacts...) reads the
//     original buffer: a removed header is still there, an added one is not.
//   - Apply(dst) writes the edited message into dst, parses it, and from
//     then on every read sees the edited message. dst must not overlap
//     the buffer being parsed; a worker keeps two buffers and swaps them.
//
// # Replies
//
// AppendReply builds a reply to a request into a caller's buffer: every Via
// line in order, From, To (with a To-tag that is stable for retransmissions
// of the same request, derived from Call-ID, From-tag, top Via branch and
// CSeq; none on 100), Call-ID, CSeq, Server, the caller's headers,
// Content-Length and body. ReplyAddr says where the reply goes (RFC 3261
// §18.2.2 with RFC 3581 rport; Via maddr only with reply_to_via_maddr); NeedsReceived and AddViaReceived give the
// received/rport handling a proxy needs when it forwards a request;
// AppendStatelessBranch derives the branch of a statelessly forwarded
// request so that retransmissions and CANCELs get the same one. With
// ReplyOptions.Src set, the reply's top Via gets received and rport the way
// a server adds them to a request it received.
//
// A Msg is not safe for concurrent use; each worker keeps its own.
package sip
