package core

import "testing"

// Request-done hooks run in the order added, each time RequestDone runs,
// and RequestDone without hooks does nothing (and does not allocate).
func TestRequestDone_HooksRunInOrder(t *testing.T) {
	rt := &Runtime{}
	if n := testing.AllocsPerRun(100, func() { rt.RequestDone(nil) }); n != 0 {
		t.Errorf("RequestDone without hooks: %v allocations", n)
	}
	var got []int
	rt.AddRequestDoneHook(func(*Ctx) { got = append(got, 1) })
	rt.AddRequestDoneHook(func(*Ctx) { got = append(got, 2) })
	rt.RequestDone(nil)
	rt.RequestDone(nil)
	if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 1 {
		t.Fatalf("hooks ran %v", got)
	}
}
