package sip

import (
	"net/netip"
	"testing"
)

// parseIP must agree with netip.ParseAddr on every input without a zone.
func TestParseIP(t *testing.T) {
	for _, s := range []string{
		"192.0.2.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3",
		"::", "::1", "1::", "2001:db8::10", "2001:db8::9:255", "2001:DB8:0:0:0:0:0:1", "2001:db8:::1",
		"::ffff:192.0.2.10", "2001:db8::192.0.2.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
		"::1:2:3:4:5:6:7", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "12345::1", ":1", "1:", "g::1",
		"::ffff:1.2.3", "", "1.2.3.4:5060",
	} {
		want, err := netip.ParseAddr(s)
		got, ok := parseIP([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseIP(%q) = %v %v, netip says %v %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		if err == nil && want.Zone() != "" {
			return
		}
		got, ok := parseIP([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseIP(%q) = %v %v, netip says %v %v", s, got, ok, want, err)
		}
	})
}
