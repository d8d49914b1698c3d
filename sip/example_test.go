package sip_test

import (
	"fmt"
	"net/netip"
	"strings"

	"kemi/sip"
)

const invite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

func ExampleMsg_Parse() {
	var m sip.Msg
	if err := m.Parse([]byte(invite)); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := m.TopVia()
	n, meth, _ := m.CSeq()
	fmt.Printf("%s %s\n", m.Method(), m.RequestURI())
	fmt.Printf("branch=%s rport=%v from-tag=%s\n", v.Branch, v.RportSet, m.FromTag())
	fmt.Printf("cseq=%d %s call-id=%s\n", n, meth, m.CallID())
	// Output:
	// INVITE sip:bob@biloxi.example.com
	// branch=z9hG4bK776asdhds rport=true from-tag=1928301774
	// cseq=314159 INVITE call-id=a84b4c76e66710
}

func ExampleMsg_AppendTo() {
	var m sip.Msg
	m.Parse([]byte(invite))
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	m.AddViaReceived(src, false)
	m.PrependVia([]byte("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1"))
	m.SetMaxForwards(69)
	m.SetRequestURI([]byte("sip:bob@192.0.2.99"))
	fmt.Print(strings.ReplaceAll(string(m.AppendTo(nil)), "\r\n", "\n"))
	// Output:
	// INVITE sip:bob@192.0.2.99 SIP/2.0
	// Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1
	// Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.7;rport=40000
	// Max-Forwards: 69
	// To: Bob <sip:bob@biloxi.example.com>
	// f: Alice <sip:alice@atlanta.example.com>;tag=1928301774
	// Call-ID: a84b4c76e66710
	// CSeq: 314159 INVITE
	// Content-Length: 0
}

func ExampleAppendReply() {
	var m sip.Msg
	m.Parse([]byte(invite))
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	out := sip.AppendReply(nil, &m, 100, "", &sip.ReplyOptions{Server: "kemi"})
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	fmt.Println("to", sip.ReplyAddr(&m, src, false))
	// Output:
	// SIP/2.0 100 Trying
	// Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport
	// From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
	// To: Bob <sip:bob@biloxi.example.com>
	// Call-ID: a84b4c76e66710
	// CSeq: 314159 INVITE
	// Server: kemi
	// Content-Length: 0
	//
	// to 192.0.2.7:40000
}
