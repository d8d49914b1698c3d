package sip

import (
	"net/netip"
	"testing"

	sipgo "github.com/emiago/sipgo/sip"
)

// readHot reads what a proxy reads of every INVITE: top Via (branch),
// From tag, To, Call-ID, CSeq and Max-Forwards.
func readHot(m *Msg) int {
	n := 0
	v, err := m.TopVia()
	if err != nil {
		panic(err)
	}
	n += len(v.Branch)
	n += len(m.FromTag())
	to, err := m.To()
	if err != nil {
		panic(err)
	}
	n += len(to.URI)
	n += len(m.CallID())
	c, _, err := m.CSeq()
	if err != nil {
		panic(err)
	}
	mf, _, _ := m.MaxForwards()
	return n + int(c) + mf
}

func BenchmarkParseINVITE(b *testing.B) {
	buf := mustRead(b, "testdata/invite.sip")
	var m Msg
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := m.Parse(buf); err != nil {
			b.Fatal(err)
		}
		readHot(&m)
	}
}

// BenchmarkSipgoParseINVITE does with sipgo what BenchmarkParseINVITE does:
// parse the same message and read the same values, without converting
// anything to strings that sipgo does not already hold as strings.
func BenchmarkSipgoParseINVITE(b *testing.B) {
	buf := mustRead(b, "testdata/invite.sip")
	p := sipgo.NewParser()
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		msg, err := p.ParseSIP(buf)
		if err != nil {
			b.Fatal(err)
		}
		req := msg.(*sipgo.Request)
		via := req.Via()
		_, _ = via.Params.Get("branch")
		from := req.From()
		_, _ = from.Params.Get("tag")
		_ = req.To().Address.Host
		_ = req.CallID().Value()
		_ = req.CSeq().SeqNo
		_ = req.MaxForwards().Val()
	}
}

func BenchmarkAppendReply(b *testing.B) {
	buf := mustRead(b, "testdata/invite.sip")
	var m Msg
	if err := m.Parse(buf); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 2048)
	opt := &ReplyOptions{Server: "kemi"}
	b.ReportAllocs()
	for b.Loop() {
		out = AppendReply(out[:0], &m, 404, "Not Found", opt)
	}
}

// BenchmarkForward is the stateless proxy path: parse, fix the top Via,
// add our Via and Record-Route, decrement Max-Forwards, write out.
func BenchmarkForward(b *testing.B) {
	buf := mustRead(b, "testdata/invite.sip")
	var m Msg
	out := make([]byte, 0, 2048)
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	var branch [64]byte
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Parse(buf); err != nil {
			b.Fatal(err)
		}
		mf, _, _ := m.MaxForwards()
		m.SetMaxForwards(mf - 1)
		m.AddViaReceived(src, false)
		via := append(branch[:0], "SIP/2.0/UDP 198.51.100.1;branch="...)
		via = AppendStatelessBranch(via, &m, 0)
		m.PrependVia(via)
		m.AddRecordRoute([]byte("<sip:198.51.100.1;lr>"))
		out = m.AppendTo(out[:0])
	}
}
