package lua

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
	_ "kemi/exports/all" // the real modules, for the seed scripts
	"kemi/sip"
)

// sent records what the real sl module sends.
type sent struct{ msgs [][]byte }

func (s *sent) SendTo(b []byte, _ core.Proto, _ netip.AddrPort) error {
	s.msgs = append(s.msgs, bytes.Clone(b))
	return nil
}

const invite = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n" +
	"Max-Forwards: %MF%\r\n" +
	"From: <sip:alice@example.com>;tag=a\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"Call-ID: seed-1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Content-Length: 0\r\n\r\n"

// TestSeedWithRealModules runs the repository's seed scripts against the
// real core, sl, maxfwd and x modules, as the server would.
func TestSeedWithRealModules(t *testing.T) {
	rt := realRuntime(t)
	for _, path := range []string{"../../testdata/seed/kamailio.lua", "../../testdata/seed/kamailio-sr.lua", "../../testdata/bench/seed.lua"} {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Skip(err)
			}
			p, err := Engine{}.Compile(path, src, rt)
			if err != nil {
				t.Fatal(err)
			}
			vm, err := p.NewVM()
			if err != nil {
				t.Fatal(err)
			}
			defer vm.Close()
			for _, tc := range []struct{ mf, want string }{{"70", "SIP/2.0 200 OK Lua\r\n"}, {"0", "SIP/2.0 483 Too Many Hops\r\n"}} {
				var msg sip.Msg
				if err := msg.Parse([]byte(strings.Replace(invite, "%MF%", tc.mf, 1))); err != nil {
					t.Fatal(err)
				}
				out := &sent{}
				ctx := &core.Ctx{RT: rt, Out: out}
				ctx.Reset(&msg, netip.MustParseAddrPort("127.0.0.1:5070"), netip.MustParseAddrPort("127.0.0.1:5060"), core.UDP)
				if err := vm.Call(ctx, "ksr_request_route"); err != nil {
					t.Fatal(err)
				}
				if len(out.msgs) != 1 || !bytes.HasPrefix(out.msgs[0], []byte(tc.want)) {
					t.Errorf("Max-Forwards %s: sent %q, want one reply starting %q", tc.mf, out.msgs, tc.want)
				}
			}
		})
	}
}

// realRuntime loads the real core, sl, maxfwd and x modules.
func realRuntime(tb testing.TB) *core.Runtime {
	var specs []*core.ModuleSpec
	for _, name := range []string{"", "sl", "maxfwd", "x"} {
		m := core.Known(name)
		if m == nil {
			tb.Fatalf("module %q is not registered", name)
		}
		specs = append(specs, m)
	}
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		tb.Fatal(err)
	}
	return &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LErr, Out: io.Discard}}
}

type discard struct{}

func (discard) SendTo([]byte, core.Proto, netip.AddrPort) error { return nil }

// BenchmarkLuaSeedReal is the seed script per request with the real
// modules: parse the INVITE, run the route, build and "send" the 200.
func BenchmarkLuaSeedReal(b *testing.B) {
	rt := realRuntime(b)
	src, err := os.ReadFile("../../testdata/seed/kamailio.lua")
	if err != nil {
		b.Skip(err)
	}
	vm := benchVM(b, rt, "kamailio.lua", string(src))
	data := []byte(strings.Replace(invite, "%MF%", "70", 1))
	var msg sip.Msg
	ctx := &core.Ctx{RT: rt, Out: discard{}, Scratch: make([]byte, 0, 4096)}
	src4 := netip.MustParseAddrPort("127.0.0.1:5070")
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if err := msg.Parse(data); err != nil {
			b.Fatal(err)
		}
		ctx.Reset(&msg, src4, src4, core.UDP)
		if err := vm.Call(ctx, "ksr_request_route"); err != nil {
			b.Fatal(err)
		}
	}
}
