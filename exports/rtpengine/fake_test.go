package rtpengine

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
)

// fakeNG is an ng peer that misbehaves: answers garbage, answers late,
// or never answers.
func fakeNG(t *testing.T, mode string, delay time.Duration) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { c.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			cookie, _, _ := bytes.Cut(buf[:n], []byte(" "))
			cookie = append([]byte(nil), cookie...)
			switch mode {
			case "garbage":
				c.WriteToUDP(append(cookie, " d6:resultl2:oke"...), from)
			case "late":
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(delay)
					c.WriteToUDP(append(cookie, " d6:result2:ok3:sdp3:v=0e"...), from)
				}()
			case "other-cookie":
				c.WriteToUDP([]byte("nope d6:result2:oke"), from)
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestRtpengine_FakePeerGarbageLateSilent(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantLog string
		disable bool
	}{
		{"garbage", "reply is not bencode", false},
		{"late", "2 tries of 150ms: no reply", true},
		{"never", "2 tries of 150ms: no reply", true},
		{"other-cookie", "no reply", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			port := fakeNG(t, tc.mode, 400*time.Millisecond)
			rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(port)))
			var log strings.Builder
			rt.Log = &core.Logger{Level: 3, Out: &log}
			ctx := msgCtx(t, rt, invite("fake-"+tc.mode, sdpBody(4000, "1")))
			body := string(ctx.Msg.Body())
			t0 := time.Now()
			if r := Offer(ctx, "replace-origin"); r != -1 {
				t.Fatalf("offer = %d, want -1", r)
			}
			if el := time.Since(t0); el > 2*150*time.Millisecond+200*time.Millisecond {
				t.Fatalf("offer blocked the worker %v, more than rtpengine_retr × rtpengine_tout_ms", el)
			}
			if !strings.Contains(log.String(), "rtpengine_offer") || !strings.Contains(log.String(), tc.wantLog) {
				t.Fatalf("log %q: want rtpengine_offer and %q", log.String(), tc.wantLog)
			}
			if string(ctx.Msg.Body()) != body {
				t.Fatal("a failed offer changed the body")
			}
			n := Of(rt).Sets[0].Nodes[0]
			if Of(rt).Enabled(n) == tc.disable {
				t.Fatalf("node enabled = %v after %s", !tc.disable, tc.mode)
			}
		})
	}
}

func TestRtpengine_DisabledNodeNotAskedUntilTimeout(t *testing.T) {
	port := fakeNG(t, "never", 0)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(port)))
	ctx := msgCtx(t, rt, invite("dis-1", sdpBody(4000, "1")))
	Offer0(ctx)
	t0 := time.Now()
	if r := Offer0(msgCtx(t, rt, invite("dis-2", sdpBody(4000, "1")))); r != -1 {
		t.Fatalf("offer = %d", r)
	}
	if el := time.Since(t0); el > 50*time.Millisecond {
		t.Fatalf("a disabled node was asked again (%v)", el)
	}
}

func TestRtpengine_NoSDPNoCallID(t *testing.T) {
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:9"))
	ctx := msgCtx(t, rt, bye("x1"))
	if r := Offer0(ctx); r != -1 {
		t.Fatalf("offer without SDP = %d", r)
	}
	if r := Offer(msgCtx(t, rt, invite("x2", sdpBody(1, "1"))), "via-branch=7"); r != -1 {
		t.Fatalf("bad via-branch flag = %d", r)
	}
}

// A request that does not fit in one ng datagram (a big SDP and long
// flags) fails by itself and does not take the node out for everyone.
func TestRtpengine_OversizedRequestDoesNotDisableNode(t *testing.T) {
	port := fakeNG(t, "never", 0)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(port)))
	big := sdpBody(4000, "1") + "a=x:" + strings.Repeat("y", 64000) + "\r\n"
	t0 := time.Now()
	if r := Offer(msgCtx(t, rt, invite("big-1", big)), "label="+strings.Repeat("z", 2000)); r != -1 {
		t.Fatalf("offer = %d", r)
	}
	if time.Since(t0) > 100*time.Millisecond {
		t.Fatal("an oversized request waited for a reply")
	}
	if !Of(rt).Enabled(Of(rt).Sets[0].Nodes[0]) {
		t.Fatal("an oversized request disabled the node")
	}
}
