package http_async_client

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// TestHTTPReq_SettingsAndInjection: $http_req settings are kept for the
// next query of the message; a header with a line break (a CRLF taken
// from the network) and a bad timeout are refused; a query with a URL
// carrying CRLF fails at once (-1) without starting a request.
func TestHTTPReq_SettingsAndInjection(t *testing.T) {
	reg, err := core.NewRegistry(core.Known("http_async_client"))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{}, Log: &core.Logger{Level: core.LErr, Out: &logged}}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	defer stop(rt)
	m := new(sip.Msg)
	if err := m.Parse(ksrtest.Invite()); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	for k, v := range map[string]core.Value{"method": core.Str("POST"), "body": core.Str("a=1"), "timeout": core.Int(250)} {
		if err := setReq(ctx, k, v); err != nil {
			t.Fatalf("$http_req(%s): %v", k, err)
		}
	}
	if err := setReq(ctx, "hdr", core.Str("X-A: 1")); err != nil {
		t.Fatal(err)
	}
	if err := setReq(ctx, "hdr", core.Str("X-B: 2")); err != nil {
		t.Fatal(err)
	}
	st := msgStates.Get(ctx)
	if st.method != "POST" || st.body != "a=1" || st.timeout != 250*time.Millisecond || st.hdrs != "X-A: 1\r\nX-B: 2" {
		t.Errorf("settings = %+v", *st)
	}
	if err := setReq(ctx, "hdr", core.Str("X-C: 3\r\nX-Injected: yes")); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("a header with CRLF: got %v", err)
	}
	if err := setReq(ctx, "timeout", core.Str("soon")); err == nil {
		t.Error("a timeout that is not a number was taken")
	}
	if err := setReq(ctx, "nosuch", core.Str("x")); err == nil {
		t.Error("an unknown $http_req key was taken")
	}
	// The URL is checked first, before anything else is needed.
	if rc := Query(ctx, "http://127.0.0.1:9/x\r\nX-Injected: yes", "cb"); rc != -1 {
		t.Errorf("a URL with CRLF: rc %d, want -1", rc)
	}
	if !strings.Contains(logged.String(), "control character") {
		t.Errorf("the log does not say why: %q", logged.String())
	}
	if len(mods.Peek(rt).inflight) != 0 {
		t.Error("a refused query kept an in-flight slot")
	}
}
