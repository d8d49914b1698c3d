package server_test

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"kemi/core/loader"
	"kemi/server"
)

// TestOps_ReloadWhileWorkersRun (issue 15 item 5): reloads while two
// workers route messages; run with -race it checks the swap is clean.
// Every message gets its reply from one script or the other.
func TestOps_ReloadWhileWorkersRun(t *testing.T) {
	fsys := config("udp:127.0.0.1:5070")
	script := func(reason string) []byte {
		return []byte("function ksr_request_route()\n\tKSR.sl.sl_send_reply(200, \"" + reason + "\")\nend\n")
	}
	fsys["s.lua"].Data = script("A")
	s, err := server.New(server.Options{Offline: true, Options: loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: &syncBuf{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 2; i++ {
		w, err := s.Worker(netip.MustParseAddrPort("127.0.0.1:5070"))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &capture{}
			src := netip.MustParseAddrPort("127.0.0.1:5999")
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				before := len(out.got)
				w.HandlePacket(options("sip:x@127.0.0.1:5070"), src, out)
				if len(out.got) != before+1 || !strings.HasPrefix(out.got[len(out.got)-1], "SIP/2.0 200 ") {
					t.Errorf("message %d: %v", n, out.got[before:])
					return
				}
				if len(out.got) > 1000 {
					out.got = out.got[:0]
				}
			}
		}()
	}
	for i := 0; i < 30; i++ {
		fsys["s.lua"].Data = script(string(rune('A' + i%26)))
		if _, err := s.Reload(); err != nil {
			t.Errorf("reload %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
}
