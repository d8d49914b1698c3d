package rtpengine

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/pv"
)

// recordingNG answers every command "ok" with a fixed SDP and hands
// each decoded request to the test.
func recordingNG(t *testing.T) (int, chan Dict) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan Dict, 16)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ck, body, _ := bytes.Cut(buf[:n], []byte(" "))
			v, _ := Decode(body)
			d, _ := v.(Dict)
			got <- d
			out := append(append([]byte(nil), ck...), " d6:result2:ok3:sdp16:v=0\r\nm=audio 9\r\ne"...)
			c.WriteToUDP(out, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port, got
}

func TestRtpengine_SetsSetidAVPAndViaBranch(t *testing.T) {
	p0, got0 := recordingNG(t)
	p1, got1 := recordingNG(t)
	params := sockParams("udp:127.0.0.1:"+strconv.Itoa(p0), "1 == udp:127.0.0.1:"+strconv.Itoa(p1))
	params["setid_avp"] = []core.Value{core.Str("$avp(setid)")}
	rt := runtimeFor(t, params)

	ctx := msgCtx(t, rt, invite("sets-1", sdpBody(4000, "1")))
	if Offer(ctx, "via-branch=1 trust-address") != 1 {
		t.Fatal("offer to set 0")
	}
	d := <-got0
	if d.Str("via-branch") != "z9hG4bK-sets-1" || d.Str("call-id") != "sets-1" || d.Str("from-tag") != "a-sets-1" {
		t.Fatalf("offer %v", d)
	}
	if rf, _ := d["received-from"].([]any); len(rf) != 2 || rf[0] != "IP4" || rf[1] != "127.0.0.1" {
		t.Fatalf("received-from %v", d["received-from"])
	}
	if string(ctx.Msg.Body()) != "v=0\r\nm=audio 9\r\n" {
		t.Fatalf("body %q", ctx.Msg.Body())
	}

	ctx = msgCtx(t, rt, invite("sets-2", sdpBody(4000, "1")))
	if SetSet(ctx, 1) != 1 || Offer0(ctx) != 1 {
		t.Fatal("offer to set 1")
	}
	<-got1
	if SetSet(ctx, 7) != -1 {
		t.Fatal("set_rtpengine_set to a missing set")
	}

	ctx = msgCtx(t, rt, invite("sets-3", sdpBody(4000, "1")))
	pv.AddAVP(ctx, "setid", core.Int(1))
	if Offer0(ctx) != 1 {
		t.Fatal("offer by setid_avp")
	}
	<-got1

	// answer and delete of sets-3 follow the call to set 1's node
	del := msgCtx(t, rt, bye("sets-3"))
	if Delete0(del) != 1 {
		t.Fatal("delete")
	}
	if d := <-got1; d.Str("command") != "delete" || d.Str("to-tag") != "" {
		t.Fatalf("delete %v: want no to-tag (Kamailio leaves it out unless asked)", d)
	}
	if Delete(msgCtx(t, rt, bye("sets-3")), "to-tag") != 1 {
		t.Fatal("delete with to-tag")
	}
	if d := <-got0; d.Str("to-tag") != "b-sets-3" {
		t.Fatalf("delete to-tag: %v", d)
	}
}

// rtpengine_manage picks the command by message and route, as Kamailio:
// offer for INVITE, answer for a 200 of a call it offered, offer for a
// 200 of a call it did not (late offer), delete in a failure route, on
// BYE and on a negative reply.
func TestRtpengine_ManageDecidesByMessageAndRoute(t *testing.T) {
	p, got := recordingNG(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(p)))
	cmd := func(ctx *core.Ctx, want string) {
		t.Helper()
		if Manage0(ctx) != 1 {
			t.Fatalf("manage for %s failed", want)
		}
		if d := <-got; d.Str("command") != want {
			t.Fatalf("command %q, want %q", d.Str("command"), want)
		}
	}
	cmd(msgCtx(t, rt, invite("m-1", sdpBody(4000, "1"))), "offer")
	rep := msgCtx(t, rt, ok200("m-1", sdpBody(4002, "2")))
	rep.Route = core.OnReplyRoute
	cmd(rep, "answer")
	late := msgCtx(t, rt, ok200("m-2", sdpBody(4002, "2")))
	late.Route = core.OnReplyRoute
	cmd(late, "offer")
	fail := msgCtx(t, rt, invite("m-3", sdpBody(4000, "1")))
	fail.Route = core.FailureRoute
	cmd(fail, "delete")
	cmd(msgCtx(t, rt, bye("m-1")), "delete")
	neg := msgCtx(t, rt, []byte(strings.Replace(string(ok200("m-4", "")), "200 OK", "486 Busy Here", 1)))
	neg.Route = core.OnReplyRoute
	cmd(neg, "delete")
	if Manage0(msgCtx(t, rt, []byte(strings.Replace(string(invite("m-5", "")), "application/sdp", "text/plain", 1)))) != -1 {
		t.Fatal("manage for an INVITE without SDP did something")
	}
}

// The new SDP goes in through the message's edits: a header added before
// and one removed after the offer are both in the message sent, and
// Content-Length is the new body's.
func TestRtpengine_BodyRewriteKeepsOtherEdits(t *testing.T) {
	p, got := recordingNG(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(p)))
	ctx := msgCtx(t, rt, invite("edits-1", sdpBody(4000, "1")))
	if err := ctx.Msg.AppendHeader("X-Before", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if Offer0(ctx) != 1 {
		t.Fatal("offer")
	}
	<-got
	if _, err := ctx.Msg.RemoveHeader("Contact"); err != nil {
		t.Fatal(err)
	}
	out := string(ctx.Msg.AppendTo(nil))
	if !strings.Contains(out, "X-Before: 1\r\n") || strings.Contains(out, "Contact:") || !strings.Contains(out, "Content-Length: 16\r\n") {
		t.Fatalf("edits lost:\n%s", out)
	}
	if !strings.HasSuffix(out, "\r\n\r\nv=0\r\nm=audio 9\r\n") {
		t.Fatalf("body not replaced:\n%s", out)
	}
}
