package sip

import (
	"net/netip"
	"testing"
)

const editBase = "INVITE sip:bob@example.com SIP/2.0\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport, SIP/2.0/TCP h2.example.com;branch=z9hG4bKb\n" +
	"Via: SIP/2.0/UDP h3.example.com;branch=z9hG4bKc\n" +
	"Max-Forwards: 70\n" +
	"From: <sip:alice@example.com>;tag=1\n" +
	"To: <sip:bob@example.com>\n" +
	"Call-ID: c1\n" +
	"CSeq: 1 INVITE\n" +
	"Route: <sip:r1.example.com;lr>, <sip:r2.example.com;lr>\n" +
	"X-Test: a\n" +
	"Content-Length: 3\n" +
	"\n" +
	"abc"

func TestEdits(t *testing.T) {
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	for _, tc := range []struct {
		name string
		edit func(m *Msg) error
		want string
	}{
		{"none", func(m *Msg) error { return nil }, editBase},
		{"request-uri", func(m *Msg) error {
			m.SetRequestURI([]byte("sip:bob@192.0.2.99:5080"))
			if got := string(m.RequestURI()); got != "sip:bob@192.0.2.99:5080" {
				t.Errorf("RequestURI after edit = %q", got)
			}
			return nil
		}, "INVITE sip:bob@192.0.2.99:5080 SIP/2.0\n" + editBase[len("INVITE sip:bob@example.com SIP/2.0\n"):]},
		{"max-forwards", func(m *Msg) error {
			m.SetMaxForwards(69)
			if n, _, _ := m.MaxForwards(); n != 69 {
				t.Errorf("MaxForwards after edit = %d", n)
			}
			return nil
		}, replace(editBase, "Max-Forwards: 70", "Max-Forwards: 69")},
		{"remove header", func(m *Msg) error {
			n, err := m.RemoveHeader("x-test")
			if n != 1 {
				t.Errorf("removed %d", n)
			}
			return err
		}, replace(editBase, "X-Test: a\n", "")},
		{"remove first value", func(m *Msg) error { return m.RemoveValue("Route", 0) },
			replace(editBase, "Route: <sip:r1.example.com;lr>, <sip:r2.example.com;lr>", "Route: <sip:r2.example.com;lr>")},
		{"remove last value", func(m *Msg) error { return m.RemoveValue("Route", 1) },
			replace(editBase, "Route: <sip:r1.example.com;lr>, <sip:r2.example.com;lr>", "Route: <sip:r1.example.com;lr>")},
		{"remove top via (comma-joined)", func(m *Msg) error { return m.RemoveTopVia() },
			replace(editBase, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport, SIP/2.0/TCP", "Via: SIP/2.0/TCP")},
		{"remove two top vias", func(m *Msg) error {
			if err := m.RemoveValue("Via", 0); err != nil {
				return err
			}
			return m.RemoveValue("Via", 1)
		}, replace(editBase, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport, SIP/2.0/TCP h2.example.com;branch=z9hG4bKb\n", "")},
		{"prepend via and record-route", func(m *Msg) error {
			if err := m.PrependVia([]byte("SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew")); err != nil {
				return err
			}
			return m.AddRecordRoute([]byte("<sip:203.0.113.1;lr>"))
		}, replace(editBase, "SIP/2.0\nVia:", "SIP/2.0\nVia: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew\r\nRecord-Route: <sip:203.0.113.1;lr>\r\nVia:")},
		{"insert before and after", func(m *Msg) error {
			if err := m.AddHeaderBefore("Call-ID", "X-Before", []byte("1")); err != nil {
				return err
			}
			if err := m.AddHeaderAfter("via", "X-After", []byte("2")); err != nil {
				return err
			}
			return m.AppendHeader("X-End", []byte("3"))
		}, replace(replace(replace(editBase,
			"Call-ID: c1", "X-Before: 1\r\nCall-ID: c1"),
			"branch=z9hG4bKc\n", "branch=z9hG4bKc\nX-After: 2\r\n"),
			"Content-Length: 3\n", "Content-Length: 3\nX-End: 3\r\n")},
		{"body", func(m *Msg) error {
			m.SetBody([]byte("hello"), "text/plain")
			if string(m.Body()) != "hello" {
				t.Errorf("Body after edit = %q", m.Body())
			}
			return nil
		}, replace(editBase, "Content-Length: 3\n\nabc", "Content-Length: 5\nContent-Type: text/plain\r\n\nhello")},
		{"via received and rport", func(m *Msg) error { return m.AddViaReceived(src, false) },
			replace(editBase, "branch=z9hG4bKa;rport,", "branch=z9hG4bKa;received=198.51.100.7;rport=40000,")},
		{"replace a Route URI host", func(m *Msg) error {
			it := m.Routes()
			it.Next()
			u, _ := it.NameAddr().ParsedURI()
			off := m.OffsetOf(u.Host)
			return m.Replace(off, off+len(u.Host), []byte("192.0.2.50"))
		}, replace(editBase, "<sip:r1.example.com;lr>", "<sip:192.0.2.50;lr>")},
		{"set header value", func(m *Msg) error { return m.SetHeaderValue(8, []byte("b, c")) },
			replace(editBase, "X-Test: a", "X-Test: b, c")},
		{"remove then insert at the same place", func(m *Msg) error {
			if err := m.RemoveHeaderAt(8); err != nil {
				return err
			}
			return m.InsertHeaderBefore(8, "X-New", []byte("b"))
		}, replace(editBase, "X-Test: a\n", "X-New: b\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Msg
			if err := m.Parse([]byte(editBase)); err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(&m); err != nil {
				t.Fatal(err)
			}
			got := string(m.AppendTo(nil))
			if got != tc.want {
				t.Fatalf("AppendTo:\n got %q\nwant %q", got, tc.want)
			}
			// Apply re-parses the result.
			out, err := m.Apply(nil)
			if err != nil || string(out) != tc.want || m.PendingEdits() {
				t.Fatalf("Apply = %q, %v", out, err)
			}
		})
	}
}

func replace(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("replace: " + old + " not in message")
}

func TestEditsReadOriginalUntilApply(t *testing.T) {
	var m Msg
	if err := m.Parse([]byte(editBase)); err != nil {
		t.Fatal(err)
	}
	m.RemoveHeader("X-Test")
	if string(m.Header("X-Test")) != "a" {
		t.Error("Header should read the original buffer before Apply")
	}
	if _, err := m.Apply(make([]byte, 0, 512)); err != nil {
		t.Fatal(err)
	}
	if m.HasHeader("X-Test") {
		t.Error("X-Test still there after Apply")
	}
}

func TestTooManyEdits(t *testing.T) {
	var m Msg
	if err := m.Parse([]byte(editBase)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < MaxEdits; i++ {
		if err := m.AppendHeader("X", []byte("y")); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := m.AppendHeader("X", []byte("y")); err != ErrTooManyEdits {
		t.Fatalf("edit %d: %v", MaxEdits+1, err)
	}
}

func TestEditsAllocs(t *testing.T) {
	buf := []byte(editBase)
	var m Msg
	dst := make([]byte, 0, 1024)
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	// Warm the edit buffer once.
	m.Parse(buf)
	m.PrependVia([]byte("SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew"))
	m.AppendTo(dst[:0])
	n := testing.AllocsPerRun(100, func() {
		m.Parse(buf)
		m.SetMaxForwards(69)
		m.SetRequestURI([]byte("sip:x@192.0.2.4"))
		m.PrependVia([]byte("SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKnew"))
		m.AddRecordRoute([]byte("<sip:203.0.113.1;lr>"))
		m.AddViaReceived(src, true)
		dst = m.AppendTo(dst[:0])
	})
	if n != 0 {
		t.Fatalf("%v allocs per edit+write", n)
	}
}

func TestOffsetOf(t *testing.T) {
	var m Msg
	if err := m.Parse([]byte(editBase)); err != nil {
		t.Fatal(err)
	}
	cid := m.CallID()
	if off := m.OffsetOf(cid); off < 0 || string(m.Raw()[off:off+len(cid)]) != "c1" {
		t.Errorf("OffsetOf(Call-ID) = %d", off)
	}
	if m.OffsetOf([]byte("c1")) != -1 || m.OffsetOf(nil) != -1 {
		t.Error("foreign slices must give -1")
	}
}

// TestEdits_ExplicitKinds covers every kind of virtual edit AppendTo writes
// at the end of the headers (a new Content-Type line, a new Content-Length
// line, the missing empty line) together with an appended header and a
// deleted one at the same place, and that their order holds.
func TestEdits_ExplicitKinds(t *testing.T) {
	const in = "MESSAGE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKk\r\n" +
		"Call-ID: k1\r\n" +
		"X-Gone: 1\r\n"
	var m Msg
	if err := m.Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := m.AppendHeader("X-New", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RemoveHeader("X-Gone"); err != nil {
		t.Fatal(err)
	}
	m.SetBody([]byte("hi"), "text/plain")
	m.SetMaxForwards(9)
	got := string(m.AppendTo(nil))
	want := "MESSAGE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKk\r\n" +
		"Call-ID: k1\r\n" +
		"X-New: 2\r\n" +
		"Max-Forwards: 9\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Length: 2\r\n" +
		"\r\n" +
		"hi"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
