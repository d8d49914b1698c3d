package tm

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"kemi/core"
	"kemi/sip"
)

// TestOps_UACStart (issue 15, tm.t_uac_start): the request is built from
// Kamailio's arguments (escaped line breaks, a From tag, Call-ID, CSeq and
// Content-Length added); a final reply is claimed only from the address
// the request went to (a spoofed one from elsewhere is swallowed but
// settles nothing); bad arguments are refused.
func TestOps_UACStart(t *testing.T) {
	var log bytes.Buffer
	var sent [][]byte
	local := netip.MustParseAddrPort("127.0.0.1:5060")
	rt := &core.Runtime{Log: &core.Logger{Level: core.LDbg, Out: &log},
		Send: func(b []byte, _ core.Proto, _ netip.AddrPort) error {
			sent = append(sent, append([]byte(nil), b...))
			return nil
		},
		StreamLocal: func(p core.Proto) (netip.AddrPort, bool) { return local, p == core.UDP },
	}
	tm := New(rt, monoClock{}, RFCTimers())
	res, err := tm.StartUAC(UACArgs{Method: "options", RURI: "sip:gw@127.0.0.1:5090", NextHop: ".", Socket: ".",
		Headers: `From: <sip:ping@kemi>\r\nTo: <sip:gw@127.0.0.1:5090>\nX-Ping: 1`})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 {
		t.Fatalf("sent %d messages", len(sent))
	}
	var m sip.Msg
	if err := m.Parse(sent[0]); err != nil {
		t.Fatalf("the request does not parse: %v\n%s", err, sent[0])
	}
	out := string(sent[0])
	for _, want := range []string{"OPTIONS sip:gw@127.0.0.1:5090 SIP/2.0\r\n", "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=" + res["branch"].(string) + ";rport\r\n",
		"From: <sip:ping@kemi>;tag=", "To: <sip:gw@127.0.0.1:5090>\r\n", "Call-ID: " + res["callid"].(string) + "\r\n",
		"CSeq: 10 OPTIONS\r\n", "X-Ping: 1\r\n", "Max-Forwards: 70\r\n", "Content-Length: 0\r\n\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("request lacks %q:\n%s", want, out)
		}
	}
	reply := func(from string) *core.Ctx {
		b := "SIP/2.0 200 Pong\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=" + res["branch"].(string) + ";rport\r\n" +
			"From: <sip:ping@kemi>;tag=x\r\nTo: <sip:gw@127.0.0.1:5090>;tag=y\r\nCall-ID: " + res["callid"].(string) + "\r\nCSeq: 10 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		ctx := &core.Ctx{RT: rt, Msg: new(sip.Msg), Src: netip.MustParseAddrPort(from)}
		if err := ctx.Msg.Parse([]byte(b)); err != nil {
			t.Fatal(err)
		}
		return ctx
	}
	spoof := reply("127.0.0.9:5090")
	if v, _ := spoof.Msg.TopVia(); !tm.uacReply(spoof, &v) {
		t.Error("a reply to a local request was not claimed")
	}
	if len(tm.uac.pending) != 1 || strings.Contains(log.String(), "200 Pong") {
		t.Errorf("a reply from another address settled the request: pending %d, log %s", len(tm.uac.pending), log.String())
	}
	ok := reply("127.0.0.1:5090")
	if v, _ := ok.Msg.TopVia(); !tm.uacReply(ok, &v) {
		t.Error("the reply was not claimed")
	}
	if len(tm.uac.pending) != 0 || !strings.Contains(log.String(), "tm: local OPTIONS to sip:gw@127.0.0.1:5090: 200 Pong") {
		t.Errorf("the reply did not settle the request: pending %d, log %s", len(tm.uac.pending), log.String())
	}

	for _, a := range []UACArgs{
		{Method: "INVITE", RURI: "sip:a@127.0.0.1", Headers: "From: <sip:a@b>\nTo: <sip:c@d>"},
		{Method: "OPT IONS", RURI: "sip:a@127.0.0.1", Headers: "From: <sip:a@b>\nTo: <sip:c@d>"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1\r\nX: y", Headers: "From: <sip:a@b>\nTo: <sip:c@d>"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Headers: "To: <sip:c@d>"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Headers: "From: <sip:a@b>\nTo: <sip:c@d>\nVia: SIP/2.0/UDP 10.0.0.1"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Headers: "From: <sip:a@b>\nTo: <sip:c@d>\nX: a\rb"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Headers: "From: <sip:a@b>\nTo: <sip:c@d>", Body: "x"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Socket: "sctp:1.2.3.4:5", Headers: "From: <sip:a@b>\nTo: <sip:c@d>"},
		{Method: "OPTIONS", RURI: "sip:a@127.0.0.1", Headers: strings.Repeat("X: y\n", 3000) + "From: <sip:a@b>\nTo: <sip:c@d>"},
	} {
		if _, err := tm.StartUAC(a); err == nil {
			t.Errorf("%+v: sent", a)
		}
	}
}
