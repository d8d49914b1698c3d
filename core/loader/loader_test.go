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

// TestSpec_BringsFromModuleYAML covers issue 12's brings: pv's module.yaml
// brings pvx, so KSR.pvx is there with pv (always loaded), with no list of
// its own in the loader; modules not loaded nor brought stay out.
func TestSpec_BringsFromModuleYAML(t *testing.T) {
	fsys := fstest.MapFS{
		"kamailio.cfg": {Data: []byte("#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"app_lua.so\"\n" +
			"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n")},
		"s.lua": {Data: []byte("function ksr_request_route() end\n")},
	}
	s, err := loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RT.Stop()
	if pv := s.RT.Reg.Module("pv"); pv == nil || len(pv.Brings) != 1 || pv.Brings[0] != "pvx" {
		t.Fatalf("pv spec brings %v", pv)
	}
	if s.RT.Reg.Lookup("pvx", "avp_get") == nil {
		t.Error("KSR.pvx.avp_get missing: pv did not bring pvx")
	}
	if s.RT.Reg.Module("tm") != nil {
		t.Error("tm is in the registry without a loadmodule")
	}
}

// TestSpec_LifecycleFromModuleYAML covers issue 12: tm's start, stop and
// reply hook come from its module.yaml; a loaded tm hooks replies, one
// not loaded does not, and Stop ends what start began.
func TestSpec_LifecycleFromModuleYAML(t *testing.T) {
	load := func(mods string) *loader.Setup {
		t.Helper()
		fsys := fstest.MapFS{
			"kamailio.cfg": {Data: []byte("#!KAMAILIO\n" + mods + "loadmodule \"app_lua.so\"\n" +
				"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n")},
			"s.lua": {Data: []byte("function ksr_request_route() end\n")},
		}
		s, err := loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := load("loadmodule \"tm.so\"\n")
	if n := len(with.RT.ReplyHooks()); n != 1 {
		t.Errorf("tm loaded: %d reply hooks, want 1", n)
	}
	with.RT.Stop()
	with.RT.Stop() // once only
	without := load("loadmodule \"sl.so\"\n")
	defer without.RT.Stop()
	if n := len(without.RT.ReplyHooks()); n != 0 {
		t.Errorf("tm not loaded: %d reply hooks", n)
	}
}
