package sip

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, s string) *Msg {
	t.Helper()
	var m Msg
	if err := m.Parse([]byte(s)); err != nil {
		t.Fatalf("Parse: %v\n%s", err, s)
	}
	return &m
}

// crlf turns a readable message with LF line ends into the wire form.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestParseInvite(t *testing.T) {
	var m Msg
	if err := m.Parse(mustRead(t, "testdata/invite.sip")); err != nil {
		t.Fatal(err)
	}
	if !m.IsRequest() || m.MethodID() != MethodINVITE || string(m.Method()) != "INVITE" {
		t.Errorf("method: %q %v", m.Method(), m.MethodID())
	}
	if got := string(m.RequestURI()); got != "sip:bob@biloxi.example.com" {
		t.Errorf("RequestURI = %q", got)
	}
	v, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Transport) != "UDP" || string(v.Host) != "pc33.atlanta.example.com" || v.Port != 5060 ||
		string(v.Branch) != "z9hG4bK776asdhds" || !v.RportSet || v.Rport != 0 {
		t.Errorf("TopVia = %+v", v)
	}
	var hosts []string
	it := m.Vias()
	for it.Next() {
		hosts = append(hosts, string(it.Via().Host))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if strings.Join(hosts, " ") != "pc33.atlanta.example.com 192.0.2.1 [2001:db8::1]" {
		t.Errorf("Via hosts = %v", hosts)
	}
	f, err := m.From()
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Display) != `"Alice Liddell"` || string(f.DisplayName()) != "Alice Liddell" ||
		string(f.URI) != "sip:alice@atlanta.example.com" || string(f.Tag) != "1928301774" {
		t.Errorf("From = %+v", f)
	}
	to, err := m.To()
	if err != nil || string(to.Display) != "Bob" || to.Tag != nil {
		t.Errorf("To = %+v, %v", to, err)
	}
	if string(m.CallID()) != "a84b4c76e66710@pc33.atlanta.example.com" {
		t.Errorf("Call-ID = %q", m.CallID())
	}
	n, meth, err := m.CSeq()
	if err != nil || n != 314159 || string(meth) != "INVITE" {
		t.Errorf("CSeq = %d %q %v", n, meth, err)
	}
	mf, ok, err := m.MaxForwards()
	if mf != 70 || !ok || err != nil {
		t.Errorf("Max-Forwards = %d %v %v", mf, ok, err)
	}
	if len(m.Body()) != 127 || !strings.HasPrefix(string(m.Body()), "v=0") {
		t.Errorf("Body = %q", m.Body())
	}
	if string(m.Header("content-type")) != "application/sdp" || string(m.Header("c")) != "application/sdp" {
		t.Errorf("Content-Type = %q", m.Header("content-type"))
	}
	if string(m.Header("ALLOW")) != "INVITE, ACK, CANCEL, OPTIONS, BYE" || m.HasHeader("Subject") {
		t.Errorf("Allow = %q", m.Header("ALLOW"))
	}
	if !m.HasOption(HdrSupported, "timer") || m.HasOption(HdrSupported, "100rel") {
		t.Error("Supported")
	}
	var routes []string
	ri := m.Routes()
	for ri.Next() {
		routes = append(routes, string(ri.NameAddr().URI))
	}
	if strings.Join(routes, " ") != "sip:p2.example.com;lr sip:p3.example.com;lr" {
		t.Errorf("Routes = %v", routes)
	}
	ci := m.Contacts()
	if !ci.Next() {
		t.Fatal(ci.Err())
	}
	c := ci.Contact()
	if c.Expires != 3600 || string(c.Q) != "0.7" || string(c.URI) != "sip:alice@pc33.atlanta.example.com" {
		t.Errorf("Contact = %+v", c)
	}
	if code, err := m.Validate(); err != nil {
		t.Errorf("Validate = %d %v", code, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, msg, why string }{
		{"empty", "", "empty message"},
		{"no crlf", "INVITE sip:a@b SIP/2.0", "first line not terminated"},
		{"no empty line", "INVITE sip:a@b SIP/2.0\r\nVia: x", "not terminated by CRLF"},
		{"bad name", "INVITE sip:a@b SIP/2.0\r\n:x\r\n\r\n", "expected header name"},
		{"no colon", "INVITE sip:a@b SIP/2.0\r\nVia x\r\n\r\n", "expected ':'"},
		{"cl negative", "INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "Content-Length: expected a number"},
		{"cl too large", "INVITE sip:a@b SIP/2.0\r\nContent-Length: 2147483648\r\n\r\n", "Content-Length: expected a number up to 2147483647"},
		{"two cl", "INVITE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", "twice"},
		{"status", "SIP/2.0 20 OK\r\n\r\n", "3-digit"},
		{"version", "INVITE sip:a@b FTP/1.1\r\n\r\n", "expected SIP-Version at the end"},
		{"empty HTTP version", "GET HTTP/\r\n\r\n", "expected SIP-Version at the end"},
		{"folded first", "INVITE sip:a@b SIP/2.0\r\n x\r\n\r\n", "continuation"},
	} {
		var m Msg
		err := m.Parse([]byte(tc.msg))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.why) {
			t.Errorf("%s: got %v, want reason containing %q", tc.name, err, tc.why)
		}
	}
}

// Issue 11: a Content-Length larger than the body is no parse error (the
// request reaches the script, whose sanity_check answers 400, as in
// Kamailio); the body is what arrived, and Validate answers 400.
func TestParse_ShortBodyReachesScript(t *testing.T) {
	for _, raw := range []string{
		"INVITE sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc",
		"INVITE sip:a@b SIP/2.0\r\nContent-Length: 65535\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\nabc",
		"INVITE sip:a@b SIP/2.0\r\nContent-Length: 2147483647\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n",
	} {
		buf := []byte(raw)
		var m Msg
		if err := m.Parse(buf[:len(buf):len(buf)]); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !m.ShortBody() {
			t.Errorf("%q: ShortBody false", raw)
		}
		body := m.Body()
		if want := raw[strings.LastIndex(raw, "\n")+1:]; string(body) != want {
			t.Errorf("%q: body %q, want %q", raw, body, want)
		}
		if code, err := m.Validate(); code != 400 || err == nil || !strings.Contains(err.Error(), "larger than the") {
			t.Errorf("%q: Validate = %d %v", raw, code, err)
		}
		// The message still writes out as it came (a missing empty line
		// is added).
		if got := string(m.AppendTo(nil)); !strings.HasPrefix(got, raw) {
			t.Errorf("%q: AppendTo = %q", raw, got)
		}
	}
	// A new body fixes the length.
	var e Msg
	if err := e.Parse([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 99\r\n\r\nabc")); err != nil {
		t.Fatal(err)
	}
	e.SetBody([]byte("hello"), "text/plain")
	out, err := e.Apply(nil)
	var e2 Msg
	if err != nil || e2.Parse(out) != nil || e2.ShortBody() || string(e2.Body()) != "hello" || e2.ContentLength() != 5 {
		t.Errorf("SetBody on a short body: %v\n%q", err, out)
	}
	var m Msg
	if err := m.Parse([]byte("INVITE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcdef")); err != nil || m.ShortBody() || string(m.Body()) != "abc" {
		t.Errorf("longer datagram: %v %v %q", err, m.ShortBody(), m.Body())
	}
}

func TestTooManyHeaders(t *testing.T) {
	var b strings.Builder
	b.WriteString("OPTIONS sip:a@b SIP/2.0\r\n")
	for i := 0; i < MaxHeaders; i++ {
		b.WriteString("X-A: 1\r\n")
	}
	b.WriteString("\r\n")
	var m Msg
	if err := m.Parse([]byte(b.String())); err != nil {
		t.Fatalf("%d headers: %v", MaxHeaders, err)
	}
	s := strings.Replace(b.String(), "\r\n\r\n", "\r\nX-B: 2\r\n\r\n", 1)
	err := m.Parse([]byte(s))
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "more than 64 header lines") {
		t.Fatalf("65 headers: %v", err)
	}
	big := make([]byte, MaxMessageSize+1)
	if err := m.Parse(big); err == nil || !strings.Contains(err.Error(), "larger than 65536") {
		t.Fatalf("big: %v", err)
	}
}

func TestValidateStatusRange(t *testing.T) {
	m := mustParse(t, crlf("SIP/2.0 799 Odd\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: x\nCSeq: 1 INVITE\n\n"))
	if code, err := m.Validate(); code != 400 || err == nil || !strings.Contains(err.Error(), "above 699") {
		t.Fatalf("Validate = %d %v", code, err)
	}
}

func TestReadsAfterFailedParse(t *testing.T) {
	var m Msg
	if m.Parse([]byte("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 9x\r\n\r\n")) == nil {
		t.Fatal("parsed")
	}
	// Reads on a message whose Parse failed must not panic.
	m.TopVia()
	m.From()
	m.Validate()
	m.AppendTo(nil)
}

func TestHeaderLine(t *testing.T) {
	m := mustParse(t, "OPTIONS sip:a@b SIP/2.0\r\nX-A: 1,\r\n 2\r\nv: SIP/2.0/UDP h\r\n\r\n")
	line, off := m.HeaderLine(0)
	if string(line) != "X-A: 1,\r\n 2\r\n" || off != 25 {
		t.Errorf("line 0 = %q at %d", line, off)
	}
	if n, v := m.HeaderAt(1); string(n) != "v" || string(v) != "SIP/2.0/UDP h" || m.HeaderIDAt(1) != HdrVia {
		t.Errorf("header 1 = %q: %q", n, v)
	}
	var vals []string
	for it := m.Values("x-a"); it.Next(); {
		vals = append(vals, string(it.Value()))
	}
	if strings.Join(vals, "|") != "1|2" {
		t.Errorf("values %q", vals)
	}
	if line, off := m.HeaderLine(5); line != nil || off != -1 {
		t.Error("out of range")
	}
}

func TestRequestLineWhitespace(t *testing.T) {
	rest := "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"
	for _, line := range []string{
		"OPTIONS sip:a@b\tSIP/2.0", "OPTIONS  sip:a@b SIP/2.0", "OPTIONS sip:a@b  SIP/2.0",
		"OPTIONS sip:a@b SIP/2.0 ", "OPTIONS sip:a@b; lr SIP/2.0",
	} {
		m := mustParse(t, line+"\r\n"+rest)
		if code, err := m.Validate(); code != 400 || err == nil {
			t.Errorf("%q: Validate = %d %v", line, code, err)
		}
	}
	m := mustParse(t, "OPTIONS sip:a@b SIP/2.0\r\n"+rest)
	if code, err := m.Validate(); code != 0 || err != nil {
		t.Errorf("clean line: Validate = %d %v", code, err)
	}
}

func TestContacts(t *testing.T) {
	m := mustParse(t, crlf("REGISTER sip:example.com SIP/2.0\n"+
		"Via: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:a@example.com>\nCall-ID: x\nCSeq: 1 REGISTER\n"+
		"Contact: \"A, B\" <sip:a@192.0.2.1;transport=tcp>;q=0.5;expires=60, sip:a@192.0.2.2;expires=0\n"+
		"m: <sip:a@[2001:db8::1]>\nExpires: 3600\nContent-Length: 0\n\n"))
	var got []string
	it := m.Contacts()
	for it.Next() {
		c := it.Contact()
		got = append(got, string(c.DisplayName())+"|"+string(c.URI)+"|"+string(c.Q)+"|"+strconv.Itoa(c.Expires))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	want := []string{"A, B|sip:a@192.0.2.1;transport=tcp|0.5|60", "|sip:a@192.0.2.2||0", "|sip:a@[2001:db8::1]||-1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("contacts:\n%s", strings.Join(got, "\n"))
	}
	if n, ok, err := m.Expires(); n != 3600 || !ok || err != nil {
		t.Errorf("Expires = %d %v %v", n, ok, err)
	}

	star := mustParse(t, crlf("REGISTER sip:example.com SIP/2.0\n"+
		"Via: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:a@example.com>\nCall-ID: x\nCSeq: 2 REGISTER\n"+
		"Contact: *\nExpires: 0\nContent-Length: 0\n\n"))
	si := star.Contacts()
	if !si.Next() || !si.Contact().Star || si.Next() {
		t.Errorf("Contact: * not seen as star: %v", si.Err())
	}
}

func TestLeadingCRLF(t *testing.T) {
	in := "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nl: 0\r\n\r\n"
	m := mustParse(t, in)
	if string(m.Method()) != "OPTIONS" || string(m.RequestURI()) != "sip:a@b" || string(m.Version()) != "SIP/2.0" {
		t.Errorf("%q %q %q", m.Method(), m.RequestURI(), m.Version())
	}
	if got := string(m.AppendTo(nil)); got != in[4:] {
		t.Errorf("AppendTo = %q", got)
	}
	if !IsKeepAlive([]byte("\r\n\r\n")) || IsKeepAlive([]byte("\r\nX")) || IsKeepAlive(nil) {
		t.Error("IsKeepAlive")
	}
	var k Msg
	if err := k.Parse([]byte("\r\n\r\n")); err == nil || !strings.Contains(err.Error(), "keep-alive") {
		t.Errorf("keep-alive: %v", err)
	}
	r := mustParse(t, "\nSIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n")
	if r.StatusCode() != 200 || string(r.Reason()) != "OK" || r.MethodID() != MethodOPTIONS {
		t.Errorf("reply %d %q", r.StatusCode(), r.Reason())
	}
}

// TestXHTTP_ParseHTTPRequest (issue 14, xhttp): an HTTP/1.x request
// parses with the SIP parser, as Kamailio's xhttp relies on, and says so;
// SIP requests and replies do not.
func TestXHTTP_ParseHTTPRequest(t *testing.T) {
	var m Msg
	if err := m.Parse([]byte("GET /status?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if !m.IsHTTP() || string(m.Method()) != "GET" || string(m.RequestURI()) != "/status?x=1" || string(m.Header("upgrade")) != "websocket" {
		t.Errorf("IsHTTP %v, method %q, URL %q, Upgrade %q", m.IsHTTP(), m.Method(), m.RequestURI(), m.Header("upgrade"))
	}
	for _, s := range []string{"OPTIONS sip:a@b SIP/2.0\r\n\r\n", "SIP/2.0 200 OK\r\n\r\n"} {
		if err := m.Parse([]byte(s)); err != nil || m.IsHTTP() {
			t.Errorf("%q: err %v, IsHTTP %v", s, err, m.IsHTTP())
		}
	}
}
