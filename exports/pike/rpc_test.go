package pike

import "testing"

// TestOps_PikeTop (issue 15 item 2): pike.top lists the blocked address
// as HOT, the others as WARM with ALL, most hits first.
func TestOps_PikeTop(t *testing.T) {
	tr := NewTree(3, 60e9, 1<<20)
	hot, warm := []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}
	for i := 0; i < 10; i++ {
		tr.Mark(hot, 1)
	}
	tr.Mark(warm, 1)
	tr.Mark(warm, 1)
	got := tr.Top("HOT")
	if len(got) != 1 || got[0].IP != "10.0.0.1" || got[0].Status != "HOT" || got[0].LeafHitsCurr < 3 {
		t.Errorf("HOT: %+v", got)
	}
	all := tr.Top("ALL")
	if len(all) != 2 || all[0].IP != "10.0.0.1" || all[1].IP != "10.0.0.2" || all[1].Status != "WARM" {
		t.Errorf("ALL: %+v", all)
	}
	if w := tr.Top("WARM"); len(w) != 1 || w[0].IP != "10.0.0.2" {
		t.Errorf("WARM: %+v", w)
	}
}
