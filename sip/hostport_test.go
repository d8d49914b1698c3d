package sip

import (
	"net/netip"
	"testing"
)

func TestAppendHostPort(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.1:5060", "192.0.2.1:5060"},
		{"[2001:db8::1]:5070", "[2001:db8::1]:5070"},
		{"[::ffff:192.0.2.1]:5060", "192.0.2.1:5060"},
	} {
		if got := string(AppendHostPort(nil, netip.MustParseAddrPort(c.in))); got != c.want {
			t.Errorf("AppendHostPort(%s) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := string(AppendIP([]byte("x="), netip.MustParseAddr("2001:db8::2"))); got != "x=[2001:db8::2]" {
		t.Errorf("AppendIP = %q", got)
	}
}
