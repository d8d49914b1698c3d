package pv_test

import (
	"os"
	"path/filepath"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"

	_ "kemi/exports/corex"
	_ "kemi/exports/hdr"
	_ "kemi/exports/kx"
	_ "kemi/exports/pv"
	_ "kemi/exports/rr"
	_ "kemi/exports/sanity"
	_ "kemi/exports/siputils"
	_ "kemi/exports/textops"
)

// Every export of these modules, called with a spread of arguments on the
// RFC 4475 and RFC 5118 torture messages, must return a value, never
// panic. Messages that do not parse are what the router drops, so they
// are skipped.
func TestTortureMessages(t *testing.T) {
	var files []string
	for _, dir := range []string{"rfc4475", "rfc5118"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "sip", "testdata", dir, "*"))
		files = append(files, m...)
	}
	files = append(files, filepath.Join("..", "..", "sip", "testdata", "invite.sip"))
	if len(files) < 10 {
		t.Fatalf("torture messages not found: %v", files)
	}
	strs := []string{"", "x", "$ru", "$hdr(Via)", "$var(x)", "/a/b/g", "/(.*)/\\1x/", "Via", "v", "sip:alice@example.com", "udp:127.0.0.1:5060", ";p=1", "(", "downstream", "f", "a", "X-A: 1\r\n", "eq", "re"}
	ints := []int64{0, 1, -1, 3, 1 << 20}
	mods := []string{"corex", "hdr", "kemix", "pv", "rr", "sanity", "siputils", "textops"}
	var specs []*core.ModuleSpec
	for _, m := range mods {
		s := core.Known(m)
		if s == nil {
			t.Fatalf("module %s not registered", m)
		}
		specs = append(specs, s)
	}
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m sip.Msg
		if m.Parse(raw) != nil {
			continue
		}
		n++
		ctx := ksrtest.Ctx(t, raw, ksrtest.Discard, specs...)
		for _, s := range specs {
			for _, e := range s.Exports {
				for variant := 0; variant < len(strs); variant++ {
					// A fresh message and context for every call.
					ctx.Msg.Parse(raw)
					ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
					args := make([]core.Value, len(e.Params))
					for i, p := range e.Params {
						switch p {
						case core.TStr:
							args[i] = core.Str(strs[(variant+i)%len(strs)])
						case core.TInt, core.TLong:
							args[i] = core.Int(ints[(variant+i)%len(ints)])
						case core.TBool:
							args[i] = core.Bool(variant%2 == 0)
						}
					}
					func() {
						defer func() {
							if r := recover(); r != nil {
								t.Errorf("%s: KSR.%s.%s%v panicked: %v", filepath.Base(f), e.Module, e.Name, args, r)
							}
						}()
						e.Call(ctx, args)
						// Whatever was edited must still serialize.
						ctx.Msg.AppendTo(nil)
					}()
					if len(e.Params) == 0 {
						break
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no torture message parsed")
	}
}
