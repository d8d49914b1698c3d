package scenarios

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core/loader"
	"kemi/server"
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
			var log strings.Builder
			srv, err := server.New(server.Options{Offline: true, Options: loader.Options{
				Path:    filepath.Join(repo, "testdata", "registrar", cfg),
				Defines: map[string]string{"NOAUTH": ""},
				LogOut:  &log,
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			w, err := srv.Worker(netip.MustParseAddrPort("127.0.0.1:5060"))
			if err != nil {
				t.Fatal(err)
			}
			var out capture
			w.HandlePacket(msg, netip.MustParseAddrPort("127.0.0.1:5999"), &out)
			if n := srv.Router.ScriptErrors.Load(); n != 0 || strings.Contains(log.String(), "panic") {
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

// capture is a transport.Writer that keeps what the script sent.
type capture struct{ sent [][]byte }

func (c *capture) WriteTo(b []byte, to netip.AddrPort) error {
	c.sent = append(c.sent, append([]byte(nil), b...))
	return nil
}
