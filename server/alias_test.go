package server_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"kemi/core/loader"
	"kemi/server"
)

// TestIssue13_ViaAliasParam (issue 13 item 2, Via alias): with
// tcp_accept_aliases=yes a request over TCP whose top Via carries ;alias
// makes its connection also the one for the Via's port at the peer's IP,
// so a request kemi then forwards to that address (where nothing
// listens) goes over the existing connection. With the param off (the
// default, as in Kamailio) the alias is ignored: kemi tries a new
// connection, which is refused, and nothing arrives on the UA's.
func TestIssue13_ViaAliasParam(t *testing.T) {
	for _, accept := range []bool{true, false} {
		t.Run("accept="+strconv.FormatBool(accept), func(t *testing.T) {
			dead := deadTCP(t)
			script := `
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.sl.sl_send_reply(200, "OK")
		return
	end
	KSR.setdsturi("sip:127.0.0.1:` + strconv.Itoa(dead) + `;transport=tcp")
	KSR.forward()
end
`
			globals := ""
			if accept {
				globals = "tcp_accept_aliases=yes\n"
			}
			port := freeTCP(t, "tcp4", "127.0.0.1:0")
			addr := "127.0.0.1:" + strconv.Itoa(port)
			startServer(t, server.Options{Version: "test", Options: loader.Options{
				Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
				FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg(globals, ""))}, "s.lua": {Data: []byte(script)}},
			}})
			ua, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ua.Close()
			r := bufio.NewReader(ua)
			opt := strings.Replace(string(streamOptions("TCP", "via-alias-1")), "127.0.0.1:5999;rport", "127.0.0.1:"+strconv.Itoa(dead)+";rport;alias", 1)
			ua.Write([]byte(opt))
			if line, _, _ := strings.Cut(readReply(t, ua, r), "\r\n"); line != "SIP/2.0 200 OK" {
				t.Fatalf("OPTIONS: %q", line)
			}
			caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
			defer caller.Close()
			to, _ := net.ResolveUDPAddr("udp", addr)
			caller.WriteTo([]byte("MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+caller.LocalAddr().String()+";branch=z9hG4bK-va;rport\r\n"+
				"From: <sip:alice@127.0.0.1>;tag=m1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: via-alias-2\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
			if accept {
				req := readReply(t, ua, r)
				if !strings.HasPrefix(req, "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n") || !strings.Contains(req, "Call-ID: via-alias-2\r\n") {
					t.Fatalf("on the aliased connection: %q", req)
				}
				return
			}
			ua.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			if line, err := r.ReadString('\n'); err == nil {
				t.Fatalf("tcp_accept_aliases off: the UA's connection got %q", line)
			}
		})
	}
}
