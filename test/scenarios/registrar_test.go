package scenarios

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core/loader"
	"kemi/core/router"
)

// TestHardening_NestedCallbackRegistrarWsinv sends the unmodified RFC 4475
// message wsinv.dat to each shipped registrar config. It is in-dialog with
// a Route, so the script relays it: t_relay runs the branch route inside
// the request route. JS and Starlark lost the request route's message
// context when the branch route returned, and every KSR call after t_relay
// panicked (issue 10 item 6).
func TestHardening_NestedCallbackRegistrarWsinv(t *testing.T) {
	repo := filepath.Join(root(), "..", "..")
	msg, err := os.ReadFile(filepath.Join(repo, "sip", "testdata", "rfc4475", "wsinv.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{"kemi-js.cfg", "kemi-star.cfg", "kemi-lua.cfg"} {
		t.Run(cfg, func(t *testing.T) {
			var log syncBuffer
			setup, err := loader.Load(loader.Options{
				Path:    filepath.Join(repo, "testdata", "registrar", cfg),
				Defines: map[string]string{"NOAUTH": ""},
				LogOut:  &log,
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := router.New(setup.RT, setup.Program)
			if err != nil {
				t.Fatal(err)
			}
			w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var out capture
			w.HandlePacket(msg, netip.MustParseAddrPort("127.0.0.1:5999"), &out)
			if n := r.ScriptErrors.Load(); n != 0 || strings.Contains(log.String(), "panic") {
				t.Errorf("script errors = %d, want 0; log:\n%s", n, log.String())
			}
			var lines []string
			for _, b := range out.sent {
				line, _, _ := strings.Cut(string(b), "\r\n")
				lines = append(lines, line)
			}
			t.Logf("sent %q", lines)
		})
	}
}
