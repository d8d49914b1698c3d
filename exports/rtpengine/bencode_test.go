package rtpengine

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBencode_RoundTripAndErrors(t *testing.T) {
	v := Dict{"result": "ok", "n": int64(-3), "l": []any{"a", int64(1), Dict{"x": ""}}, "sdp": "v=0\r\n"}
	b := Append(nil, v)
	if want := "d1:ll1:ai1ed1:x0:ee1:ni-3e6:result2:ok3:sdp5:v=0\r\ne"; string(b) != want {
		t.Fatalf("encode = %q, want %q", b, want)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, any(v)) {
		t.Fatalf("decode = %#v, %v", got, err)
	}
	for _, bad := range []string{"", "d", "d3:abc", "i12", "ixe", "5:abc", "d1:ai1e", "x", "di1ei2ee", "99999999999:a", "-1:a", "i1ei2e",
		strings.Repeat("l", 100) + strings.Repeat("e", 100)} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) gave no error", bad)
		}
	}
}

func FuzzBencodeDecode(f *testing.F) {
	for _, s := range []string{"d6:result4:ponge", "d3:sdp5:v=0\r\n6:result2:oke", "li1ei-2e0:e", "d1:ad1:bl1:ceee"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Append(nil, v))
		if err != nil || !reflect.DeepEqual(v, again) {
			t.Fatalf("re-encoding %q: %v %#v", b, err, again)
		}
	})
}

func TestFlags_KamailioMapping(t *testing.T) {
	var r request
	r.reset("offer")
	err := r.parseFlags("replace-origin replace-session-connection ICE=remove RTP/SAVPF DTLS=passive SDES-off direction=priv direction=pub " +
		"trust-address via-branch=1 codec-strip-PCMA codec-mask=G722 codec-transcode=opus,PCMU record-call=yes TOS=184 internal to-tag=tt label=x")
	if err != nil {
		t.Fatal(err)
	}
	r.callID, r.fromTag = "c", "f"
	v, err := Decode(r.appendTo(nil, "1")[2:])
	if err != nil {
		t.Fatal(err)
	}
	want := Dict{
		"command": "offer", "call-id": "c", "from-tag": "f", "to-tag": "tt",
		"replace": []any{"origin", "session-connection"}, "ICE": "remove", "transport-protocol": "RTP/SAVPF",
		"DTLS": "passive", "SDES": []any{"off"}, "direction": []any{"priv", "pub", "internal"},
		"flags":       []any{"trust-address", "codec-strip-PCMA"},
		"codec":       Dict{"mask": []any{"G722"}, "transcode": []any{"opus", "PCMU"}},
		"record call": "yes", "TOS": int64(184), "label": "x",
	}
	if !reflect.DeepEqual(v, any(want)) {
		t.Fatalf("flags became\n%#v\nwant\n%#v", v, want)
	}
	if r.viaSel != "1" {
		t.Fatalf("via-branch selector %q", r.viaSel)
	}
	for _, bad := range []string{"=x", "TOS=high", "via-branch=9"} {
		r.reset("offer")
		if r.parseFlags(bad) == nil {
			t.Errorf("flags %q gave no error", bad)
		}
	}
}

func TestSock_SetsWeightsAndErrors(t *testing.T) {
	sets, err := ParseSock([]string{"udp:127.0.0.1:2223=2 udp:127.0.0.1:2224", "1 == udp6:[::1]:2225"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || len(sets[0].Nodes) != 2 || sets[0].Nodes[0].Weight != 2 || sets[0].Nodes[1].Weight != 1 || sets[1].ID != 1 || sets[1].Nodes[0].Set != 1 {
		t.Fatalf("sets %+v", sets)
	}
	for _, bad := range []string{"x == udp:127.0.0.1:1", "unix:/run/rtpengine.sock", "udp:127.0.0.1:1=w", "2 == "} {
		if _, err := ParseSock([]string{bad}); err == nil {
			t.Errorf("ParseSock(%q) gave no error", bad)
		}
	}
}

// BenchmarkOfferBuild builds an offer with the usual flags and a body.
func BenchmarkOfferBuild(b *testing.B) {
	var r request
	body := []byte(sdpBody(4000, "1"))
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.reset("offer")
		r.parseFlags("replace-origin replace-session-connection ICE=remove RTP/AVP trust-address")
		r.callID, r.fromTag = "bench-call@127.0.0.1", "a1b2c3"
		r.recvFrom = [2]string{"IP4", "127.0.0.1"}
		r.sdp = append(r.sdp[:0], body...)
		buf = r.appendTo(buf[:0], "123_4")
	}
}

// BenchmarkRoundTrip is one ng request and reply over loopback to a
// Go peer that echoes a fixed reply (the client side's cost).
func BenchmarkRoundTrip(b *testing.B) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 65536)
		out := make([]byte, 0, 512)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ck, _, _ := strings.Cut(string(buf[:n]), " ")
			out = append(append(out[:0], ck...), " d6:result2:ok3:sdp3:v=0e"...)
			c.WriteToUDP(out, from)
		}
	}()
	sets, _ := ParseSock([]string{"udp:127.0.0.1:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)})
	cl := NewClient(sets, 16)
	cl.Timeout = time.Second
	var r request
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.reset("answer")
		r.callID, r.fromTag, r.toTag = "rt-call", "a", "b"
		if _, err := cl.roundTrip(sets[0].Nodes[0], &r, buf, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// rtpengine replays its cached reply for a cookie it has seen; a reload
// (a new Client) must not reuse the old one's cookies.
func TestCookie_UniqueAcrossClients(t *testing.T) {
	a, b := NewClient(nil, 1), NewClient(nil, 1)
	if a.prefix == b.prefix {
		t.Fatalf("two clients share the cookie prefix %q", a.prefix)
	}
}

// BenchmarkOfferCommand is rtpengine_offer end to end against a Go ng
// peer: flags, request, round trip, reply decode and the body rewrite.
func BenchmarkOfferCommand(b *testing.B) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 65536)
		out := make([]byte, 0, 1024)
		sdp := sdpBody(30000, "9")
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ck, _, _ := strings.Cut(string(buf[:n]), " ")
			out = AppendStr(append(append(out[:0], ck...), " d6:result2:ok"...), "sdp")
			out = append(AppendStr(out, sdp), 'e')
			c.WriteToUDP(out, from)
		}
	}()
	rt := runtimeFor(b, sockParams("udp:127.0.0.1:"+strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)))
	raw := invite("bench-offer", sdpBody(4000, "1"))
	ctx := msgCtx(b, rt, raw)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ctx.Msg.Parse(raw); err != nil {
			b.Fatal(err)
		}
		ctx.Seq++
		if Offer(ctx, "replace-origin replace-session-connection ICE=remove RTP/AVP") != 1 {
			b.Fatal("offer failed")
		}
	}
}
