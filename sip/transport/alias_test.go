package transport

import (
	"net/netip"
	"testing"
)

// TestIssue13_AliasesBounded (issue 13 item 2, hostile Via alias): a peer
// that repeats Via ;alias with the same port adds one alias, and one with
// ever new ports stops at MaxAliases; the aliases leave with the
// connection.
func TestIssue13_AliasesBounded(t *testing.T) {
	var tb connTable
	tb.init()
	c := &Conn{id: 1, proto: TCP, remote: netip.MustParseAddrPort("127.0.0.1:40000")}
	tb.add(c)
	a := netip.MustParseAddrPort("127.0.0.1:5070")
	for i := 0; i < 1000; i++ {
		if !tb.alias(c, a) {
			t.Fatal("repeating an alias refused")
		}
	}
	if n := len(tb.extras[c]); n != 1 {
		t.Fatalf("1000 identical aliases kept %d entries, want 1", n)
	}
	added := 0
	for p := 6000; p < 7000; p++ {
		if tb.alias(c, netip.AddrPortFrom(a.Addr(), uint16(p))) {
			added++
		}
	}
	if added != MaxAliases-1 || len(tb.extras[c]) != MaxAliases || len(tb.addrs) != MaxAliases+1 {
		t.Fatalf("1000 new ports: %d added, %d extras, %d addresses; want %d, %d, %d", added, len(tb.extras[c]), len(tb.addrs), MaxAliases-1, MaxAliases, MaxAliases+1)
	}
	if tb.byAddr(TCP, a) != c {
		t.Fatal("the first alias is lost")
	}
	tb.remove(c)
	if len(tb.addrs) != 0 || len(tb.extras) != 0 {
		t.Fatalf("after remove: %d addresses, %d alias lists", len(tb.addrs), len(tb.extras))
	}
}
