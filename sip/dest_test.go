package sip

import (
	"net/netip"
	"testing"
)

func TestURIDestinationOrName_NamesAreForDNS(t *testing.T) {
	for _, c := range []struct {
		uri  string
		dst  string
		name bool
		bad  bool
	}{
		{uri: "sip:bob@127.0.0.1:5070", dst: "127.0.0.1:5070"},
		{uri: "sip:bob@[::1]", dst: "[::1]:5060"},
		{uri: "sip:bob@example.test", name: true},
		{uri: "sip:bob@example.test;transport=tcp", name: true},
		{uri: "sips:example.test", name: true},
		{uri: "sip:bob@10.0.0.1;maddr=gw.example.test", name: true},
		{uri: "sip:bob@gw.example.test;maddr=127.0.0.2", dst: "127.0.0.2:5060"},
		{uri: "sip:bob@127.0.0.1;transport=tcp", bad: true},
		{uri: "tel:+123", bad: true},
		{uri: "sip:", bad: true},
	} {
		dst, name, why := URIDestinationOrName([]byte(c.uri))
		if name != c.name || (why != "") != c.bad || (c.dst != "" && dst != netip.MustParseAddrPort(c.dst)) {
			t.Errorf("%s: got %v name=%v why=%q", c.uri, dst, name, why)
		}
	}
	uri := []byte("sip:bob@example.test")
	if n := testing.AllocsPerRun(100, func() { URIDestinationOrName(uri) }); n != 0 {
		t.Errorf("a host name allocates %.1f times, want 0", n)
	}
}
