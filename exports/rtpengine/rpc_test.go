package rtpengine

import (
	"strconv"
	"testing"

	"kemi/exports/rtpengine/rtptest"
)

func TestRPC_ShowEnablePingReload(t *testing.T) {
	d := rtptest.Start(t)
	silent := fakeNG(t, "never", 0)
	up, down := "udp:127.0.0.1:"+strconv.Itoa(d.NG), "udp:127.0.0.1:"+strconv.Itoa(silent)
	rt := runtimeFor(t, sockParams(up+" "+down))
	c := Of(rt)
	ping, err := c.PingNodes("all")
	if err != nil || !ping[up] || ping[down] {
		t.Fatalf("ping = %v, %v", ping, err)
	}
	show, err := c.Show("all")
	if err != nil || len(show) != 2 || show[0].Disabled || !show[1].Disabled || show[1].Index != 1 {
		t.Fatalf("show = %+v, %v", show, err)
	}
	if err := c.Enable(up, false); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Show(up); !s[0].Disabled || !s[0].Manual {
		t.Fatalf("after enable 0: %+v", s)
	}
	if r := Offer0(msgCtx(t, rt, invite("rpc-1", sdpBody(4000, "1")))); r != -1 {
		t.Fatalf("offer with every node disabled = %d", r)
	}
	if err := c.Enable(up, true); err != nil {
		t.Fatal(err)
	}
	if err := c.Enable(down, true); err == nil {
		t.Fatal("enabling a silent node gave no error")
	}
	call(t, rt, "rpc-2")
	if c.HashTotal() != 1 {
		t.Fatalf("hash total %d", c.HashTotal())
	}
	if _, err := c.Show("udp:nowhere:1"); err == nil {
		t.Fatal("show of an unknown node gave no error")
	}
	if c.Reload() == nil {
		t.Fatal("reload without db_url gave no error")
	}
}
