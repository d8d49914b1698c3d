package registrar

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// TestPath_ModeAndOrder covers issue 14's registrar side of RFC 3327:
// path_mode 2 refuses a Path without Supported: path (420 with
// Unsupported: path); every Path value is stored in order and lookup puts
// them all in Route, the first hop as the destination; path_use_received
// takes the edge's received parameter as the binding's address.
func TestPath_ModeAndOrder(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.use_path": core.Int(1)})
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register("Contact: <sip:a@10.0.0.5:5060>", "Path: <sip:edge.example.com;lr>"), rec)
	if Save(ctx, "location", 0) != -1 || len(rec.Sent) != 1 {
		t.Fatal("path_mode 2 saved a Path without Supported: path")
	}
	out := string(rec.Sent[0].B)
	if !strings.HasPrefix(out, "SIP/2.0 420 Bad Extension\r\n") || !strings.Contains(out, "\r\nUnsupported: path\r\n") || !strings.Contains(out, "\r\nPath: <sip:edge.example.com;lr>\r\n") {
		t.Errorf("want 420 with Unsupported: path and the Path, got:\n%s", out)
	}
	rec = ksrtest.NewRecorder()
	ctx = msgCtx(t, rt, register("Contact: <sip:a@10.0.0.5:5060>",
		"Path: <sip:edge1.example.com;lr>, <sip:edge2.example.com;lr>", "Path: <sip:edge3.example.com;lr>", "Supported: path"), rec)
	if Save(ctx, "location", 0) < 0 {
		t.Fatalf("save failed:\n%s", rec.Sent[0].B)
	}
	ctx = msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 {
		t.Fatal("lookup failed")
	}
	if ctx.DstURI != "sip:edge1.example.com;lr" {
		t.Errorf("DstURI = %q, want the first Path hop", ctx.DstURI)
	}
	if ctx.Path != "<sip:edge1.example.com;lr>,<sip:edge2.example.com;lr>,<sip:edge3.example.com;lr>" {
		t.Errorf("ctx.Path = %q, want every Path hop in order", ctx.Path)
	}

	rt = newRT(t, map[string]core.Value{"registrar.use_path": core.Int(1), "registrar.path_use_received": core.Int(1)})
	ctx = msgCtx(t, rt, register("Contact: <sip:a@10.0.0.5:5060>", "Path: <sip:192.0.2.1:5060;lr;received=sip:198.51.100.7:40000%3Btransport%3Dtcp>", "Supported: path"), ksrtest.NewRecorder())
	if Save(ctx, "location", 0) < 0 {
		t.Fatal("save failed")
	}
	ctx = msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 || ctx.DstURI != "sip:198.51.100.7:40000;transport=tcp" {
		t.Errorf("DstURI = %q, want the received address from the Path", ctx.DstURI)
	}
}

// TestHardening_PathFloodRefused: Path values over 512 bytes together (a
// flood of Path headers, or one huge one) and a Path that is not a
// name-addr are refused with 400 and store nothing.
func TestHardening_PathFloodRefused(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.use_path": core.Int(1)})
	flood := []string{"Contact: <sip:a@10.0.0.5:5060>", "Supported: path"}
	for i := 0; i < 40; i++ {
		flood = append(flood, "Path: <sip:edge.example.com;lr>")
	}
	huge := []string{"Contact: <sip:a@10.0.0.5:5060>", "Supported: path", "Path: <sip:" + strings.Repeat("e", 600) + ".example.com;lr>"}
	bad := []string{"Contact: <sip:a@10.0.0.5:5060>", "Supported: path", "Path: <sip:edge.example.com;lr"}
	for name, hdrs := range map[string][]string{"flood": flood, "huge": huge, "bad": bad} {
		rec := ksrtest.NewRecorder()
		ctx := msgCtx(t, rt, register(hdrs...), rec)
		if Save(ctx, "location", 0) != -1 || len(rec.Sent) != 1 || !strings.HasPrefix(string(rec.Sent[0].B), "SIP/2.0 400 ") {
			t.Errorf("%s: want a 400, got %d replies: %q", name, len(rec.Sent), rec.Sent)
		}
	}
	if ctx := msgCtx(t, rt, invite("sip:alice@example.com"), nil); Lookup(ctx, "location") != -1 {
		t.Errorf("a refused REGISTER stored a binding")
	}
}
