package sip

import (
	"net/netip"
	"strings"
	"testing"
)

const replyReq = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport, SIP/2.0/TCP h2.example.com;branch=z9hG4bKb\r\n" +
	"Via: SIP/2.0/UDP h3.example.com;branch=z9hG4bKc\r\n" +
	"Max-Forwards: 70\r\n" +
	"f: <sip:alice@example.com>;tag=1\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"Call-ID: c1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

func TestAppendReply(t *testing.T) {
	m := mustParse(t, replyReq)
	tag := string(ToTagFor(nil, m))
	if len(tag) != 16 {
		t.Fatalf("tag %q", tag)
	}
	vias := "Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport, SIP/2.0/TCP h2.example.com;branch=z9hG4bKb\r\n" +
		"Via: SIP/2.0/UDP h3.example.com;branch=z9hG4bKc\r\n"
	rest := "Call-ID: c1\r\nCSeq: 1 INVITE\r\n"
	for _, tc := range []struct {
		name   string
		code   int
		reason string
		opt    *ReplyOptions
		want   string
	}{
		{"100 has no tag", 100, "", nil,
			"SIP/2.0 100 Trying\r\n" + vias + "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n" + rest +
				"Content-Length: 0\r\n\r\n"},
		{"404 gets a tag and Server", 404, "Nobody Here", &ReplyOptions{Server: "kemi"},
			"SIP/2.0 404 Nobody Here\r\n" + vias + "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=" + tag + "\r\n" + rest +
				"Server: kemi\r\nContent-Length: 0\r\n\r\n"},
		{"extra headers and body", 200, "OK", &ReplyOptions{ExtraHeaders: []byte("Contact: <sip:b@192.0.2.9>\r\n"), Body: []byte("v=0\r\n"), ContentType: "application/sdp", ToTag: []byte("xyz")},
			"SIP/2.0 200 OK\r\n" + vias + "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=xyz\r\n" + rest +
				"Contact: <sip:b@192.0.2.9>\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"},
		{"received and rport from the source", 486, "", &ReplyOptions{Src: netip.MustParseAddrPort("198.51.100.7:40000")},
			"SIP/2.0 486 Busy Here\r\n" +
				"Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;received=198.51.100.7;rport=40000, SIP/2.0/TCP h2.example.com;branch=z9hG4bKb\r\n" +
				"Via: SIP/2.0/UDP h3.example.com;branch=z9hG4bKc\r\n" +
				"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=" + tag + "\r\n" + rest + "Content-Length: 0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendReply(nil, m, tc.code, tc.reason, tc.opt))
			if got != tc.want {
				t.Fatalf("\n got %q\nwant %q", got, tc.want)
			}
			var r Msg
			if err := r.Parse([]byte(got)); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReplyKeepsExistingToTag(t *testing.T) {
	m := mustParse(t, strings.Replace(replyReq, "To: <sip:bob@example.com>", "To: <sip:bob@example.com>;TAG=abc", 1))
	out := string(AppendReply(nil, m, 200, "", nil))
	if !strings.Contains(out, "To: <sip:bob@example.com>;TAG=abc\r\n") {
		t.Errorf("To changed:\n%s", out)
	}
	// A "tag" inside the URI is not a To-tag.
	m = mustParse(t, strings.Replace(replyReq, "To: <sip:bob@example.com>", "To: <sip:bob@example.com;tag=u>", 1))
	out = string(AppendReply(nil, m, 200, "", &ReplyOptions{ToTag: []byte("t1")}))
	if !strings.Contains(out, "To: <sip:bob@example.com;tag=u>;tag=t1\r\n") {
		t.Errorf("To-tag missing:\n%s", out)
	}
}

func TestToTagStable(t *testing.T) {
	a := mustParse(t, replyReq)
	b := mustParse(t, replyReq) // a retransmission
	ta, tb := string(ToTagFor(nil, a)), string(ToTagFor(nil, b))
	if ta != tb {
		t.Fatalf("retransmission got another tag: %s %s", ta, tb)
	}
	c := mustParse(t, strings.Replace(replyReq, "branch=z9hG4bKa", "branch=z9hG4bKz", 1))
	if string(ToTagFor(nil, c)) == ta {
		t.Fatal("another transaction got the same tag")
	}
	d := mustParse(t, strings.Replace(replyReq, "CSeq: 1", "CSeq: 2", 1))
	if string(ToTagFor(nil, d)) == ta {
		t.Fatal("another CSeq got the same tag")
	}
}

func TestReplyAddr(t *testing.T) {
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	for _, tc := range []struct {
		via   string
		force bool
		want  string
	}{
		{"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa", false, "198.51.100.7:5062"},
		{"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa", false, "198.51.100.7:5060"},
		{"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport", false, "198.51.100.7:40000"},
		{"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa", true, "198.51.100.7:40000"},
		{"SIP/2.0/UDP host.example.com;branch=z9hG4bKa;maddr=239.255.255.1;ttl=1", false, "198.51.100.7:5060"},
		{"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=127.0.0.9;rport", false, "198.51.100.7:40000"},
		{"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=127.0.0.9", true, "198.51.100.7:40000"},
		{"SIP/2.0/TCP 192.0.2.1:5062;branch=z9hG4bKa", false, "198.51.100.7:40000"},
		{"SIP/2.0/TLS client.example.com;branch=z9hG4bKa", false, "198.51.100.7:40000"},
		{"SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKa", false, "198.51.100.7:5070"},
	} {
		m := mustParse(t, strings.Replace(replyReq, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport", tc.via, 1))
		if got := ReplyAddr(m, src, tc.force).String(); got != tc.want {
			t.Errorf("Via %q force=%v: %s, want %s", tc.via, tc.force, got, tc.want)
		}
	}
}

// TestHardening_MaddrIgnoredByReplyAddr covers issue 10 item 1: a Via
// maddr does not steer a reply unless reply_to_via_maddr turns it on.
func TestHardening_MaddrIgnoredByReplyAddr(t *testing.T) {
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	for _, via := range []string{
		"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=127.0.0.9",
		"SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=127.0.0.9;rport",
		"SIP/2.0/UDP 192.0.2.1:5062;maddr=[2001:db8::9];branch=z9hG4bKa",
	} {
		m := mustParse(t, strings.Replace(replyReq, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport", via, 1))
		for _, force := range []bool{false, true} {
			if got := ReplyAddr(m, src, force); got.Addr() != src.Addr() {
				t.Errorf("Via %q force=%v: reply to %s, want the source address %s", via, force, got, src.Addr())
			}
		}
	}
	SetReplyToViaMaddr(true)
	defer SetReplyToViaMaddr(false)
	m := mustParse(t, strings.Replace(replyReq, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport", "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=127.0.0.9;rport", 1))
	if got := ReplyAddr(m, src, true).String(); got != "127.0.0.9:5062" {
		t.Errorf("with reply_to_via_maddr on: reply to %s, want 127.0.0.9:5062", got)
	}
	m = mustParse(t, strings.Replace(replyReq, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;rport", "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKa;maddr=mcast.example.com", 1))
	if got := ReplyAddr(m, src, false).String(); got != "198.51.100.7:5062" {
		t.Errorf("with reply_to_via_maddr on, a maddr that is no IP: reply to %s, want the source", got)
	}
}

// TestHardening_ReasonInjection covers issue 10 item 7 in the reply
// builder: a reason phrase with a line break never splits the status line.
func TestHardening_ReasonInjection(t *testing.T) {
	m := mustParse(t, replyReq)
	for _, r := range []string{"OK\r\nX-Injected: yes", "OK\nX-Injected: yes", "OK\x00"} {
		b := string(AppendReply(nil, m, 200, r, nil))
		if !strings.HasPrefix(b, "SIP/2.0 200 OK\r\nVia: ") || strings.Contains(b, "X-Injected") || strings.Contains(b, "\x00") {
			t.Errorf("reason %q gave:\n%s", r, b)
		}
	}
}

func TestNeedsReceived(t *testing.T) {
	for _, tc := range []struct {
		via  string
		src  string
		want bool
	}{
		{"SIP/2.0/UDP 192.0.2.1:5060", "192.0.2.1", false},
		{"SIP/2.0/UDP 192.0.2.1:5060", "192.0.2.2", true},
		{"SIP/2.0/UDP host.example.com", "192.0.2.1", true},
		{"SIP/2.0/UDP [2001:db8::1]", "2001:db8:0::1", false},
		{"SIP/2.0/UDP [::ffff:192.0.2.1]", "192.0.2.1", false},
	} {
		v, err := ParseVia([]byte(tc.via))
		if err != nil {
			t.Fatal(err)
		}
		if got := NeedsReceived(&v, netip.MustParseAddr(tc.src)); got != tc.want {
			t.Errorf("%s from %s: %v", tc.via, tc.src, got)
		}
	}
}

func TestHotPathAllocs(t *testing.T) {
	buf := mustRead(t, "testdata/invite.sip")
	var m Msg
	if n := testing.AllocsPerRun(200, func() {
		if err := m.Parse(buf); err != nil {
			t.Fatal(err)
		}
		readHot(&m)
		m.Validate()
		ci := m.Contacts()
		for ci.Next() {
		}
	}); n != 0 {
		t.Errorf("parse and reads: %v allocs", n)
	}
	out := make([]byte, 0, 2048)
	opt := &ReplyOptions{Server: "kemi", Src: netip.MustParseAddrPort("198.51.100.7:40000")}
	if n := testing.AllocsPerRun(200, func() {
		out = AppendReply(out[:0], &m, 404, "", opt)
		ReplyAddr(&m, opt.Src, false)
	}); n != 0 {
		t.Errorf("AppendReply: %v allocs", n)
	}
}

func TestStatelessBranch(t *testing.T) {
	inv := mustParse(t, replyReq)
	cancel := mustParse(t, strings.Replace(replyReq, "CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1))
	a := string(AppendStatelessBranch(nil, inv, 0))
	if !strings.HasPrefix(a, "z9hG4bK") || !strings.HasSuffix(a, ".0") {
		t.Fatalf("branch %q", a)
	}
	if b := string(AppendStatelessBranch(nil, cancel, 0)); b != a {
		t.Errorf("CANCEL branch %q differs from INVITE branch %q", b, a)
	}
	if b := string(AppendStatelessBranch(nil, inv, 1)); b == a {
		t.Error("second branch equals the first")
	}
	other := mustParse(t, strings.Replace(replyReq, "branch=z9hG4bKa", "branch=z9hG4bKq", 1))
	if b := string(AppendStatelessBranch(nil, other, 0)); b == a {
		t.Error("another transaction got the same branch")
	}
}
