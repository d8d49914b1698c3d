package sip

import "testing"

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in                                     string
		scheme, user, pass, host, params, hdrs string
		port                                   int
	}{
		{in: "sip:alice@atlanta.com", scheme: "sip", user: "alice", host: "atlanta.com"},
		{in: "sip:alice:secretword@atlanta.com;transport=tcp", scheme: "sip", user: "alice", pass: "secretword", host: "atlanta.com", params: ";transport=tcp"},
		{in: "sips:alice@atlanta.com?subject=project%20x&priority=urgent", scheme: "sips", user: "alice", host: "atlanta.com", hdrs: "subject=project%20x&priority=urgent"},
		{in: "sip:+1-212-555-1212:1234@gateway.com;user=phone", scheme: "sip", user: "+1-212-555-1212", pass: "1234", host: "gateway.com", params: ";user=phone"},
		{in: "sips:1212@gateway.com", scheme: "sips", user: "1212", host: "gateway.com"},
		{in: "sip:alice@192.0.2.4", scheme: "sip", user: "alice", host: "192.0.2.4"},
		{in: "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", scheme: "sip", host: "atlanta.com", params: ";method=REGISTER", hdrs: "to=alice%40atlanta.com"},
		{in: "sip:alice;day=tuesday@atlanta.com", scheme: "sip", user: "alice;day=tuesday", host: "atlanta.com"},
		{in: "SIP:[2001:db8::1]:5070;lr", scheme: "SIP", host: "[2001:db8::1]", port: 5070, params: ";lr"},
		{in: "sip:*21#@pbx_1.example.com", scheme: "sip", user: "*21#", host: "pbx_1.example.com"},
		{in: "tel:+1-201-555-0123;phone-context=example.com", scheme: "tel", user: "+1-201-555-0123", params: ";phone-context=example.com"},
	} {
		u, err := ParseURI([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got := [...]string{string(u.Scheme), string(u.User), string(u.Password), string(u.Host), string(u.Params), string(u.Headers)}
		want := [...]string{tc.scheme, tc.user, tc.pass, tc.host, tc.params, tc.hdrs}
		if got != want || u.Port != tc.port {
			t.Errorf("%s:\n got %q port %d\nwant %q port %d", tc.in, got, u.Port, want, tc.port)
		}
	}
	for _, bad := range []string{"", "sip:", "sip:@", "sip:a@", "sip:a@b:", "sip:a@b:99999", "sip:a@[::1", "sip:a@[zz::1]",
		"sip:a b@c", "sip:2001:db8::10", "tel:", "1sip:a", "sip:a@b c", "sip:a@b;x=<y>"} {
		if _, err := ParseURI([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The examples of RFC 3261 §19.1.4.
func TestURIEqual(t *testing.T) {
	eq := [][2]string{
		{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;security=on"},
		{"sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"},
		{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"},
		{"sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x"},
		{"sip:a@[2001:db8::1]", "sip:a@[2001:DB8:0::1]"},
		{"tel:+1-201-555-0123", "tel:+12015550123"},
	}
	ne := [][2]string{
		{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"},
		{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"},
		{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"},
		{"sip:alice@atlanta.com", "sips:alice@atlanta.com"},
		{"sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"},
	}
	for _, p := range eq {
		a, err1 := ParseURI([]byte(p[0]))
		b, err2 := ParseURI([]byte(p[1]))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !URIEqual(a, b) || !URIEqual(b, a) {
			t.Errorf("%s and %s should be equal", p[0], p[1])
		}
	}
	for _, p := range ne {
		a, _ := ParseURI([]byte(p[0]))
		b, _ := ParseURI([]byte(p[1]))
		if URIEqual(a, b) || URIEqual(b, a) {
			t.Errorf("%s and %s should differ", p[0], p[1])
		}
	}
}

func TestLookupHdr(t *testing.T) {
	compact := map[string]HdrID{"i": HdrCallID, "m": HdrContact, "e": HdrContentEncoding, "l": HdrContentLength,
		"c": HdrContentType, "f": HdrFrom, "s": HdrSubject, "k": HdrSupported, "t": HdrTo, "v": HdrVia,
		"o": HdrEvent, "u": HdrAllowEvents, "r": HdrReferTo, "x": HdrSessionExpires, "y": HdrIdentity, "b": HdrReferredBy}
	for name, id := range compact {
		if LookupHdr(name) != id || LookupHdr(string(name[0]-32)) != id {
			t.Errorf("%s: %v", name, LookupHdr(name))
		}
	}
	for id := HdrVia; id < numHdrIDs; id++ {
		name := id.String()
		if LookupHdr(name) != id || LookupHdr([]byte(name)) != id {
			t.Errorf("%s does not map back", name)
		}
		up := []byte(name)
		for i := range up {
			if up[i] >= 'a' && up[i] <= 'z' {
				up[i] -= 32
			}
		}
		if LookupHdr(up) != id {
			t.Errorf("%s does not map back", up)
		}
	}
	for _, other := range []string{"", "X-Via", "Vià", "C%6Fntact", "Fromm", "q", "Content-Lengths"} {
		if LookupHdr(other) != HdrOther {
			t.Errorf("%q mapped to %v", other, LookupHdr(other))
		}
	}
}

func TestSplitCommas(t *testing.T) {
	sp := SplitCommas([]byte(` "a,b" <sip:x@y;p=1,2>;q=1 , ,c,"d\",e" `))
	var got []string
	for {
		v, ok := sp.Next()
		if !ok {
			break
		}
		got = append(got, string(v))
	}
	want := []string{`"a,b" <sip:x@y;p=1,2>;q=1`, "c", `"d\",e"`}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %q want %q", i, got[i], want[i])
		}
	}
}

func TestCredentials(t *testing.T) {
	m := mustParse(t, crlf("REGISTER sip:example.com SIP/2.0\n"+
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\n"+
		"From: <sip:a@example.com>;tag=1\nTo: <sip:a@example.com>\nCall-ID: x\nCSeq: 2 REGISTER\n"+
		`Authorization: Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",`+"\n"+
		` uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",`+"\n"+
		` opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5`+"\n"+
		`Proxy-Authenticate: Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5`+"\n"+
		"Content-Length: 0\n\n"))
	c, ok, err := m.Credentials(HdrAuthorization)
	if !ok || err != nil || !c.IsDigest() {
		t.Fatal(ok, err)
	}
	got := [...]string{string(c.Username), string(c.Realm), string(c.Nonce), string(c.URI), string(c.QOP), string(c.NC), string(c.CNonce), string(c.Response), string(c.Opaque), string(c.Algorithm)}
	want := [...]string{"bob", "biloxi.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "sip:bob@biloxi.com", "auth", "00000001", "0a4f113b", "6629fae49393a05397450978507c4ef1", "5ccc069c403ebaf9f0171e9517f40e41", "MD5"}
	if got != want {
		t.Errorf("credentials\n got %q\nwant %q", got, want)
	}
	ch, ok, err := m.Credentials(HdrProxyAuthenticate)
	if !ok || err != nil || string(ch.Realm) != "atlanta.com" || string(ch.Stale) != "FALSE" || string(ch.Domain) != "sip:ss1.carrier.com" || ch.Opaque == nil || len(ch.Opaque) != 0 {
		t.Errorf("challenge %+v %v", ch, err)
	}
	if v, ok := ch.Param("QOP"); !ok || string(v) != "auth" {
		t.Errorf("Param(QOP) = %q", v)
	}
}

func TestParamsAndNameAddr(t *testing.T) {
	n, err := ParseNameAddr([]byte(`"Bob \"B\"" <sip:bob@example.com;lr> ; tag = abc ; expires=60;flag`))
	if err != nil {
		t.Fatal(err)
	}
	if string(n.DisplayName()) != `Bob \"B\"` || string(n.URI) != "sip:bob@example.com;lr" || string(n.Tag) != "abc" {
		t.Errorf("%+v", n)
	}
	if v, ok := n.Params.Get("EXPIRES"); !ok || string(v) != "60" {
		t.Errorf("expires = %q %v", v, ok)
	}
	if v, ok := n.Params.Get("flag"); !ok || len(v) != 0 {
		t.Errorf("flag = %q %v", v, ok)
	}
	for _, bad := range []string{"", "<sip:a@b", "sip:a@b?x=y", `"x <sip:a@b>`, "<sip:a@b>;", "<sip:a@b>;;tag=1", "<sip:a@b> x"} {
		if _, err := ParseNameAddr([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
