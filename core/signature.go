package core

// Version is kemi's version, as `kemi version` prints it; main sets it
// with SetVersion before loading a config.
var Version = "dev"

// DefaultServerHeader and DefaultUserAgentHeader are the header lines
// Kamailio's server_header and user_agent_header default to, with kemi's
// name: "Server: kemi (VERSION)".
var (
	DefaultServerHeader    = "Server: kemi (dev)"
	DefaultUserAgentHeader = "User-Agent: kemi (dev)"
)

// SetVersion sets Version and the default Server and User-Agent lines.
func SetVersion(v string) {
	Version = v
	DefaultServerHeader = "Server: kemi (" + v + ")"
	DefaultUserAgentHeader = "User-Agent: kemi (" + v + ")"
}

// Signature is what the core parameters server_signature, server_header
// and user_agent_header set. The zero value is Kamailio's default: a
// Server line (DefaultServerHeader) on every locally generated reply.
type Signature struct {
	Off       bool   // server_signature = no: neither line is written
	Server    string // server_header, the whole line without CRLF; "" is the default
	UserAgent string // user_agent_header, likewise
}

// ServerHeader is the Server line (without CRLF) for a reply this server
// builds itself (sl, tm's local replies, sanity, registrar...), or "" when
// server_signature is off. It does not allocate.
func (rt *Runtime) ServerHeader() string {
	if rt == nil {
		return DefaultServerHeader
	}
	switch {
	case rt.Signature.Off:
		return ""
	case rt.Signature.Server != "":
		return rt.Signature.Server
	}
	return DefaultServerHeader
}

// UserAgentHeader is the User-Agent line for a request this server
// builds itself, or "" when server_signature is off. Kamailio 5.6 adds it
// to requests tm originates (t_uac); its hop-by-hop CANCEL and ACK, built
// from the INVITE (reparse_invite, on by default), carry none, and neither
// do kemi's.
func (rt *Runtime) UserAgentHeader() string {
	if rt == nil {
		return DefaultUserAgentHeader
	}
	switch {
	case rt.Signature.Off:
		return ""
	case rt.Signature.UserAgent != "":
		return rt.Signature.UserAgent
	}
	return DefaultUserAgentHeader
}

// ServerHeader is the Server line for a reply to the message in hand (see
// Runtime.ServerHeader).
func (c *Ctx) ServerHeader() string { return c.RT.ServerHeader() }
