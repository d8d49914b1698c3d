package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsUA is a test-only SIP user agent over WebSocket (RFC 7118), as a
// browser's JsSIP is: it dials kemi's tcp: listen, asks for the sip
// sub-protocol, sends text frames and reads whole messages (wsutil
// answers pings).
type wsUA struct {
	t      *testing.T
	user   string
	host   string // its made-up Via/Contact host, as browsers use
	server string // kemi's address
	conn   net.Conn
	rw     io.ReadWriter
	seq    atomic.Int64
}

type readWriter struct {
	io.Reader
	io.Writer
}

// dialWS connects user to kemi at addr (host:port) over ws://.
func dialWS(t *testing.T, addr, user string) *wsUA {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"sip"}}
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("%s: WebSocket handshake with %s: %v", user, addr, err)
	}
	if hs.Protocol != "sip" {
		t.Fatalf("%s: handshake chose sub-protocol %q, want sip", user, hs.Protocol)
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	u := &wsUA{t: t, user: user, host: user + "-ws.invalid", server: addr, conn: conn, rw: readWriter{r, conn}}
	t.Cleanup(func() { conn.Close() })
	return u
}

func (u *wsUA) contact() string {
	return "<sip:" + u.user + "@" + u.host + ";transport=ws>"
}

func (u *wsUA) send(msg string) {
	u.t.Helper()
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	if err := wsutil.WriteClientText(u.conn, []byte(msg)); err != nil {
		u.t.Fatalf("%s: send: %v", u.user, err)
	}
}

// recv reads the next SIP message, skipping provisional replies when
// skip1xx.
func (u *wsUA) recv(skip1xx bool) string {
	u.t.Helper()
	for {
		u.conn.SetReadDeadline(time.Now().Add(8 * time.Second))
		b, op, err := wsutil.ReadServerData(u.rw)
		if err != nil {
			u.t.Fatalf("%s: receive: %v", u.user, err)
		}
		if op != ws.OpText && op != ws.OpBinary {
			continue
		}
		m := string(b)
		if skip1xx && strings.HasPrefix(m, "SIP/2.0 1") {
			continue
		}
		return m
	}
}

// expect reads a message and fails unless its first line starts with want.
func (u *wsUA) expect(want string, skip1xx bool) string {
	u.t.Helper()
	m := u.recv(skip1xx)
	if !strings.HasPrefix(m, want) {
		u.t.Fatalf("%s: got %q, want a message starting %q", u.user, firstLine(m), want)
	}
	return m
}

func firstLine(m string) string {
	if i := strings.Index(m, "\r\n"); i >= 0 {
		return m[:i]
	}
	return m
}

// hdrs returns the values of every header line called name.
func hdrs(m, name string) []string {
	var out []string
	head, _, _ := strings.Cut(m, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		n, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func hdr(m, name string) string {
	if v := hdrs(m, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (u *wsUA) branch() string {
	return fmt.Sprintf("z9hG4bK-%s-%d-%d", u.user, time.Now().UnixNano(), u.seq.Add(1))
}

// register sends a REGISTER and expects code.
func (u *wsUA) register(code string) string {
	u.t.Helper()
	u.send(fmt.Sprintf(`
REGISTER sip:%[1]s SIP/2.0
Via: SIP/2.0/WS %[2]s;branch=%[3]s
Max-Forwards: 70
From: <sip:%[4]s@%[1]s>;tag=%[4]s-reg
To: <sip:%[4]s@%[1]s>
Call-ID: reg-%[4]s@%[2]s
CSeq: %[5]d REGISTER
Contact: %[6]s;expires=600
Expires: 600
Content-Length: 0

`, u.server, u.host, u.branch(), u.user, u.seq.Add(1), u.contact()))
	return u.expect("SIP/2.0 "+code, true)
}

// answer sends a reply to request req: its Vias, From, Call-ID, CSeq and
// Record-Routes, To with totag.
func (u *wsUA) answer(req, status, totag, body string) {
	u.t.Helper()
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\n")
	for _, v := range hdrs(req, "Via") {
		b.WriteString("Via: " + v + "\n")
	}
	for _, v := range hdrs(req, "Record-Route") {
		b.WriteString("Record-Route: " + v + "\n")
	}
	to := hdr(req, "To")
	if totag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + totag
	}
	b.WriteString("From: " + hdr(req, "From") + "\nTo: " + to + "\nCall-ID: " + hdr(req, "Call-ID") + "\nCSeq: " + hdr(req, "CSeq") + "\n")
	if strings.HasPrefix(status, "200") && strings.Contains(hdr(req, "CSeq"), "INVITE") {
		b.WriteString("Contact: " + u.contact() + "\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	b.WriteString(fmt.Sprintf("Content-Length: %d\n\n", len(strings.ReplaceAll(body, "\n", "\r\n"))))
	b.WriteString(body)
	u.send(b.String())
}

var uriInAngle = regexp.MustCompile(`<([^>]*)>`)

// splitRR is the Record-Route entries of m, top first.
func splitRR(m string) []string {
	var rr []string
	for _, v := range hdrs(m, "Record-Route") {
		for _, p := range strings.Split(v, ",") {
			rr = append(rr, strings.TrimSpace(p))
		}
	}
	return rr
}

// routeSet is a UAC's route set from a 2xx: the Record-Routes reversed.
func routeSet(resp string) []string {
	rr := splitRR(resp)
	for i, j := 0, len(rr)-1; i < j; i, j = i+1, j-1 {
		rr[i], rr[j] = rr[j], rr[i]
	}
	return rr
}

const wsSDP = `v=0
o=ws 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 9 RTP/AVP 0
`
