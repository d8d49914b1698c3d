// Package ksrtest helps module tests: real SIP messages parsed by kemi/sip,
// a context around them, and a Sender that records what was sent.
package ksrtest

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"kemi/core"
	"kemi/sip"
)

// Request builds a request from header lines; "\n" becomes CRLF, and the
// blank line ending the headers is added.
func Request(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// Invite is a plain INVITE over UDP from 192.0.2.10:5062.
func Invite(extra ...string) []byte {
	return Request(append([]string{
		"INVITE sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport",
		"From: Alice <sip:alice@example.org>;tag=1928301774",
		"To: Bob <sip:bob@example.com>",
		"Call-ID: a84b4c76e66710@pc33.example.org",
		"CSeq: 314159 INVITE",
		"Contact: <sip:alice@192.0.2.10:5062>",
		"Content-Length: 0",
	}, extra...)...)
}

// Sent is one message a Recorder saw.
type Sent struct {
	B     []byte
	Proto core.Proto
	To    netip.AddrPort
}

// Recorder is a core.Sender that keeps what it is given.
type Recorder struct {
	Sent []Sent
	keep bool // copy bytes (tests); false keeps nothing (benchmarks)
	Err  error
}

// NewRecorder keeps a copy of every message sent.
func NewRecorder() *Recorder { return &Recorder{keep: true} }

// Discard counts nothing and keeps nothing, for allocation checks.
var Discard = &Recorder{}

func (r *Recorder) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if r.keep {
		r.Sent = append(r.Sent, Sent{bytes.Clone(b), proto, to})
	}
	return r.Err
}

// Src and Local are the addresses Ctx uses.
var (
	Src   = netip.MustParseAddrPort("192.0.2.10:5062")
	Local = netip.MustParseAddrPort("192.0.2.1:5060")
)

// Ctx parses raw and returns a context for it, as a worker would set one
// up, with a runtime over the given modules (nil for none).
func Ctx(t testing.TB, raw []byte, out core.Sender, mods ...*core.ModuleSpec) *core.Ctx {
	t.Helper()
	m := new(sip.Msg)
	if err := m.Parse(raw); err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	reg, err := core.NewRegistry(mods...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{Out: out, RT: &core.Runtime{Reg: reg}}
	ctx.Reset(m, Src, Local, core.UDP)
	return ctx
}

// Serialize writes the message with its pending edits.
func Serialize(ctx *core.Ctx) string { return string(ctx.Msg.AppendTo(nil)) }
