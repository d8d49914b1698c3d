package sip

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/rfc*/*")
	files = append(files, "testdata/invite.sip")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// readAll calls every reader, so that the fuzzer reaches the lazy parsers.
func readAll(m *Msg) {
	m.Method()
	m.MethodID()
	m.RequestURI()
	m.Body()
	m.CallID()
	m.CSeq()
	m.MaxForwards()
	m.Expires()
	m.ContentLength()
	m.FromTag()
	m.ToTag()
	m.ViaBranch()
	m.Validate()
	m.HasOption(HdrSupported, "timer")
	vi := m.Vias()
	for vi.Next() {
		NeedsReceived(vi.Via(), netip.MustParseAddr("192.0.2.1"))
	}
	ci := m.Contacts()
	for ci.Next() {
		ci.Contact().ParsedURI()
	}
	ri := m.Routes()
	for ri.Next() {
	}
	for _, id := range [...]HdrID{HdrAuthorization, HdrProxyAuthorization, HdrWWWAuthenticate, HdrProxyAuthenticate} {
		ai := m.AuthLines(id)
		for ai.Next() {
			ai.Credentials().Param("qop")
		}
	}
	ParseURI(m.RequestURI())
	ReplyAddr(m, netip.MustParseAddrPort("192.0.2.1:5060"), true)
}

func FuzzParseMsg(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		if m.Parse(b) != nil {
			return
		}
		readAll(&m)
		// Writing out and parsing again gives the same message.
		out := m.AppendTo(nil)
		var m2 Msg
		if err := m2.Parse(out); err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if m.NumHeaders() != m2.NumHeaders() || !bytes.Equal(m.Body(), m2.Body()) ||
			!bytes.Equal(m.RequestURI(), m2.RequestURI()) || m.StatusCode() != m2.StatusCode() {
			t.Fatalf("round trip changed %q into %q", b, out)
		}
		for i := 0; i < m.NumHeaders(); i++ {
			n1, v1 := m.HeaderAt(i)
			n2, v2 := m2.HeaderAt(i)
			if !bytes.Equal(n1, n2) || !bytes.Equal(v1, v2) {
				t.Fatalf("header %d changed: %q: %q -> %q: %q", i, n1, v1, n2, v2)
			}
		}
		// Edits and replies must not panic either.
		AppendReply(nil, &m, 200, "", &ReplyOptions{Src: netip.MustParseAddrPort("[2001:db8::1]:5062"), Server: "x"})
		m.SetRequestURI([]byte("sip:x@y"))
		m.SetMaxForwards(3)
		m.RemoveTopVia()
		m.PrependVia([]byte("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"))
		m.AddRecordRoute([]byte("<sip:192.0.2.1;lr>"))
		m.AddViaReceived(netip.MustParseAddrPort("192.0.2.2:5099"), true)
		m.RemoveValue("Route", 1)
		m.RemoveHeader("Contact")
		m.AppendHeader("X-A", []byte("1"))
		if m.HeaderIDAt(1) == HdrOther {
			// Any value is fine for an unknown header; a bad value for a
			// known one (say Content-Length) would rightly not re-parse.
			m.SetHeaderValue(1, []byte("v"))
		}
		if cid := m.CallID(); len(cid) > 0 {
			off := m.OffsetOf(cid)
			m.Replace(off, off+len(cid)/2, []byte("new"))
		}
		m.SetBody([]byte("abc"), "text/plain")
		var dst []byte
		if out, err := m.Apply(dst); err != nil {
			t.Fatalf("Apply: %v\n%q", err, out)
		}
		readAll(&m)
	})
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"sip:alice@atlanta.example.com", "sips:bob:secret@[2001:db8::1]:5061;transport=tcp?subject=x&priority=urgent",
		"tel:+1-201-555-0123;phone-context=example.com", "sip:user;par=u%40example.net@example.com",
		"sip:%61lice@ATLANTA.example.com;maddr=239.255.255.1;ttl=15", "urn:service:sos", "sip:[::ffff:192.0.2.1]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseURI(b)
		if err != nil {
			return
		}
		if !URIEqual(u, u) {
			t.Fatalf("%q is not equal to itself", b)
		}
		u2, err := ParseURI(u.Raw)
		if err != nil || !URIEqual(u, u2) {
			t.Fatalf("re-parse of %q: %v", b, err)
		}
		u.HostAddr()
		u.Param("transport")
	})
}
