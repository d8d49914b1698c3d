package loader_test

import (
	"io"
	"testing"
	"testing/fstest"

	"kemi/core/loader"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/sip"
)

// TestHardening_ReplyToViaMaddrParam covers issue 10 item 1's switch:
// reply_to_via_maddr is off unless the config turns it on, and every load
// sets it again, so a reload without the line turns it off.
func TestHardening_ReplyToViaMaddrParam(t *testing.T) {
	load := func(line string) bool {
		t.Helper()
		fsys := fstest.MapFS{
			"kamailio.cfg": {Data: []byte("#!KAMAILIO\n" + line + "\nloadmodule \"sl.so\"\nloadmodule \"app_lua.so\"\n" +
				"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n")},
			"s.lua": {Data: []byte("function ksr_request_route() end\n")},
		}
		if _, err := loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: io.Discard}); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return sip.ReplyToViaMaddr()
	}
	defer sip.SetReplyToViaMaddr(false)
	if load("") {
		t.Error("replies follow maddr by default")
	}
	if !load("reply_to_via_maddr = yes") {
		t.Error("reply_to_via_maddr = yes did not turn it on")
	}
	if load("") {
		t.Error("a load without the line left it on")
	}
	if load("reply_to_via_maddr = no") {
		t.Error("reply_to_via_maddr = no left it on")
	}
}
