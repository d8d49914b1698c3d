package tm

import (
	"strings"
	"testing"

	"kemi/core"
)

// TestPath_EachBranchItsOwnRoute: lookup's Path (ctx.Path for branch 0,
// Branch.Path for the others) becomes each branch's own Route header and
// its first hop the branch's destination; a branch without Path gets no
// Route (issue 14, RFC 3327 5.3).
func TestPath_EachBranchItsOwnRoute(t *testing.T) {
	r := newRig(t)
	edge1, edge2 := "sip:"+uas.String()+";lr", "sip:"+uas2.String()+";lr;received=sip:198.51.100.7:4000"
	r.route = func(ctx *core.Ctx) {
		ctx.Msg.SetRequestURI([]byte("sip:alice@10.0.0.5:5060"))
		ctx.Path = "<" + edge1 + ">"
		ctx.Branches = append(ctx.Branches,
			core.Branch{URI: "sip:alice@10.0.0.6:5060", Path: "<" + edge2 + ">"},
			core.Branch{URI: "sip:alice@" + uac.String()})
		if Relay(ctx) < 0 {
			t.Error("t_relay failed")
		}
	}
	r.in(invite("z9hG4bK-path1"), uac)
	r.expect("three branches, two through their edges",
		"INVITE sip:alice@10.0.0.5:5060 SIP/2.0 -> "+uas.String(),
		"INVITE sip:alice@10.0.0.6:5060 SIP/2.0 -> "+uas2.String(),
		"INVITE sip:alice@"+uac.String()+" SIP/2.0 -> "+uac.String(),
		"SIP/2.0 100 Trying -> "+uac.String())
	b0, b1, b2 := string(r.rec.Sent[0].B), string(r.rec.Sent[1].B), string(r.rec.Sent[2].B)
	if !strings.Contains(b0, "\r\nRoute: <"+edge1+">\r\n") || strings.Contains(b0, edge2) {
		t.Errorf("branch 0 does not carry its own Path as Route:\n%s", b0)
	}
	if !strings.Contains(b1, "\r\nRoute: <"+edge2+">\r\n") || strings.Contains(b1, edge1) {
		t.Errorf("branch 1 does not carry its own Path as Route:\n%s", b1)
	}
	if strings.Contains(b2, "Route:") {
		t.Errorf("a branch without Path got a Route:\n%s", b2)
	}
}
