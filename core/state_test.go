package core

import (
	"errors"
	"net/netip"
	"testing"
)

type testMsgState struct {
	n    int
	name string
	buf  []byte
}

var testMS = NewMsgState(func(old *testMsgState) testMsgState {
	return testMsgState{buf: old.buf[:0]}
})

var testZeroMS = NewMsgState[testMsgState](nil)

// TestMsgState_ClearedOnNextMessage covers issue 12's typed per-message
// state: every field but those carry keeps starts at zero on the next
// message, with no reset code in the module.
func TestMsgState_ClearedOnNextMessage(t *testing.T) {
	var ctx Ctx
	ctx.Reset(nil, netip.AddrPort{}, netip.AddrPort{}, UDP)
	if testMS.Peek(&ctx) != nil {
		t.Fatal("Peek created state")
	}
	st := testMS.Get(&ctx)
	st.n, st.name = 7, "x"
	st.buf = append(st.buf, "abc"...)
	z := testZeroMS.Get(&ctx)
	z.n, z.buf = 3, []byte("q")
	if got := testMS.Get(&ctx); got.n != 7 || got.name != "x" || testMS.Peek(&ctx) != got {
		t.Fatalf("same message lost state: %+v", got)
	}
	ctx.Reset(nil, netip.AddrPort{}, netip.AddrPort{}, UDP)
	if testMS.Peek(&ctx) != nil {
		t.Error("Peek sees the last message's state")
	}
	got := testMS.Get(&ctx)
	if got.n != 0 || got.name != "" || len(got.buf) != 0 || cap(got.buf) < 3 {
		t.Errorf("next message: %+v (cap %d), want zero fields and the buffer kept", got, cap(got.buf))
	}
	if z := testZeroMS.Get(&ctx); z.n != 0 || z.buf != nil {
		t.Errorf("state without carry not zeroed: %+v", z)
	}
}

// TestMsgState_NoAllocs: reading and clearing state allocates nothing once
// a Ctx has it.
func TestMsgState_NoAllocs(t *testing.T) {
	var ctx Ctx
	rt := &Runtime{}
	rs := testRS.Get(rt)
	n := testing.AllocsPerRun(100, func() {
		ctx.Reset(nil, netip.AddrPort{}, netip.AddrPort{}, UDP)
		st := testMS.Get(&ctx)
		st.buf = append(st.buf, "abcdef"...)
		st.n++
		if testRS.Get(rt) != rs {
			t.Fatal("runtime state changed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per message", n)
	}
}

type testRuntimeState struct{ built int }

var testRS = NewRuntimeState(func(rt *Runtime) *testRuntimeState { return &testRuntimeState{built: 1} })

// TestRuntimeState_PerRuntime: each Runtime has its own state, built once;
// Peek does not build it and Set replaces it.
func TestRuntimeState_PerRuntime(t *testing.T) {
	a, b := &Runtime{}, &Runtime{}
	if testRS.Peek(a) != nil || testRS.Peek(nil) != nil {
		t.Fatal("Peek built state")
	}
	sa := testRS.Get(a)
	if sa.built != 1 || testRS.Get(a) != sa {
		t.Fatal("Get built twice or not with mk")
	}
	if testRS.Get(b) == sa {
		t.Fatal("two runtimes share state")
	}
	s := &testRuntimeState{built: 9}
	testRS.Set(a, s)
	if testRS.Get(a) != s {
		t.Error("Set did not replace")
	}
	testRS.Set(a, nil)
	if testRS.Peek(a) != nil {
		t.Error("Set nil did not remove")
	}
}

// TestRuntime_LifecycleFromSpec covers the start, stop and reply hooks a
// ModuleSpec carries (from module.yaml): start in module order, stop in
// reverse once, reply hooks added after start, and a failing start names
// its module.
func TestRuntime_LifecycleFromSpec(t *testing.T) {
	var log []string
	mk := func(name string) *ModuleSpec {
		return &ModuleSpec{
			Name:       name,
			Start:      []StartFunc{func(*Runtime) error { log = append(log, "start "+name); return nil }},
			Stop:       []StopFunc{func(*Runtime) { log = append(log, "stop "+name) }},
			ReplyHooks: []ReplyHook{func(*Ctx) bool { return name == "b" }},
		}
	}
	reg, err := NewRegistry(mk("a"), mk("b"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{Reg: reg}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	if hs := rt.ReplyHooks(); len(hs) != 2 || hs[0](nil) || !hs[1](nil) {
		t.Errorf("reply hooks: %d", len(hs))
	}
	rt.Stop()
	rt.Stop()
	want := "start a,start b,stop b,stop a"
	if got := join(log); got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	bad := &ModuleSpec{Name: "bad", Start: []StartFunc{func(*Runtime) error { return errors.New("no table") }}}
	reg, _ = NewRegistry(bad)
	if err := (&Runtime{Reg: reg}).Start(); err == nil || err.Error() != "module bad: no table" {
		t.Errorf("got %v", err)
	}
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}
