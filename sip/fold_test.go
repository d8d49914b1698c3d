package sip

import "testing"

func TestFold_Helpers(t *testing.T) {
	if !EqualFold([]byte("Via"), "vIA") || !EqualFold("ABC", []byte("abc")) || EqualFold("ab", "abc") {
		t.Error("EqualFold")
	}
	// Only ASCII letters fold: '@' and '`' differ by 0x20 but are not a case pair.
	if EqualFold("@", "`") || EqualFold("[", "{") {
		t.Error("EqualFold folds a non-letter")
	}
	if !HasPrefixFold("Application/SDP; x", "application/sdp") || HasPrefixFold("app", "application") {
		t.Error("HasPrefixFold")
	}
	if !HasSuffixFold([]byte("host.EXAMPLE.com"), ".example.COM") || HasSuffixFold("m", "com") {
		t.Error("HasSuffixFold")
	}
	if IndexFold("xxLRyy", "lr") != 2 || IndexFold("abc", "d") != -1 || IndexFold("abc", "") != 0 || !ContainsFold([]byte("a;LR"), "lr") {
		t.Error("IndexFold/ContainsFold")
	}
	if got := string(AppendLower([]byte("x:"), "HoSt")); got != "x:host" {
		t.Errorf("AppendLower = %q", got)
	}
	b := []byte("Content-Type")
	if n := testing.AllocsPerRun(100, func() { _ = EqualFold(b, "content-type") && HasPrefixFold(b, "content") }); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}
