package htable

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// walk runs iterator name to its end and returns "key=value" of every item.
func walk(t *testing.T, ctx *core.Ctx, name string) []string {
	t.Helper()
	key, val := core.LookupPV("shtitkey"), core.LookupPV("shtitval")
	var got []string
	for IteratorNext(ctx, name) > 0 {
		k, ok1 := key(ctx, name, nil)
		v, ok2 := val(ctx, name, nil)
		if !ok1 || !ok2 {
			t.Fatalf("$shtitkey/$shtitval(%s) null while the iterator stands on an item", name)
		}
		got = append(got, string(k)+"="+string(v))
	}
	sort.Strings(got)
	return got
}

func TestIterator_WalksEveryLiveItem(t *testing.T) {
	ctx, clock := setup(t, "t=>size=3;autoexpire=60", "empty=>size=2")
	Seti(ctx, "t", "a", 1)
	Sets(ctx, "t", "b", "two")
	Setxi(ctx, "t", "gone", 3, 5)
	advance(clock, 10) // "gone" expired
	if IteratorStart(ctx, "i1", "t") != 1 {
		t.Fatal("start failed")
	}
	if _, ok := core.LookupPV("shtitkey")(ctx, "i1", nil); ok {
		t.Error("$shtitkey gives an item before the first next")
	}
	if got := strings.Join(walk(t, ctx, "i1"), ","); got != "a=1,b=two" {
		t.Errorf("walk = %s, want a=1,b=two", got)
	}
	if _, ok := core.LookupPV("shtitkey")(ctx, "i1", nil); ok {
		t.Error("$shtitkey gives an item after the last")
	}
	if IteratorNext(ctx, "i1") != -1 {
		t.Error("next after the end is not -1")
	}
	if IteratorEnd(ctx, "i1") != 1 || IteratorEnd(ctx, "i1") != -1 {
		t.Error("end: want 1 then -1")
	}
	IteratorStart(ctx, "e", "empty")
	if IteratorNext(ctx, "e") != -1 {
		t.Error("an empty table's iterator found an item")
	}
}

func TestIterator_ModifyCurrent(t *testing.T) {
	ctx, _ := setup(t, "t=>size=2;autoexpire=100")
	for i := 0; i < 20; i++ {
		Seti(ctx, "t", "k"+strconv.Itoa(i), i)
	}
	IteratorStart(ctx, "rm", "t")
	n := 0
	for IteratorNext(ctx, "rm") > 0 {
		k, _ := core.LookupPV("shtitkey")(ctx, "rm", nil)
		switch i, _ := strconv.Atoi(string(k[1:])); {
		case i%2 == 0:
			if IteratorRm(ctx, "rm") != 1 {
				t.Fatal("rm failed")
			}
			if v, ok := core.LookupPV("shtitkey")(ctx, "rm", nil); !ok || string(v) != string(k) {
				t.Error("the removed item is no longer current")
			}
		case i%3 == 0:
			IteratorSets(ctx, "rm", "s")
		default:
			IteratorSeti(ctx, "rm", -i)
			IteratorSetex(ctx, "rm", 5)
		}
		n++
	}
	if n != 20 {
		t.Errorf("walked %d items, want 20", n)
	}
	tb := Of(ctx.RT).Table("t")
	if tb.Len() != 10 {
		t.Errorf("%d items left, want 10", tb.Len())
	}
	if v := Get(ctx, "t", "k3"); v != core.Str("s") {
		t.Errorf("k3 = %v, want s", v)
	}
	if v := Get(ctx, "t", "k5"); v != core.Int(-5) || tb.ExpiresIn("k5") != 5 {
		t.Errorf("k5 = %v expiring in %d, want -5 in 5", v, tb.ExpiresIn("k5"))
	}
	for _, f := range []func() int{
		func() int { return IteratorRm(ctx, "rm") },
		func() int { return IteratorSets(ctx, "rm", "x") },
		func() int { return IteratorSeti(ctx, "rm", 1) },
		func() int { return IteratorSetex(ctx, "rm", 1) },
		func() int { return IteratorRm(ctx, "nosuch") },
	} {
		if f() != -1 {
			t.Error("a change without a current item did not fail")
		}
	}
}

func TestIterator_Limits(t *testing.T) {
	ctx, _ := setup(t, "t=>size=2")
	Seti(ctx, "t", "a", 1)
	for _, c := range []struct{ iname, table string }{
		{"", "t"},
		{strings.Repeat("n", MaxIteratorName), "t"},
		{"i", "nosuch"},
	} {
		if IteratorStart(ctx, c.iname, c.table) != -1 {
			t.Errorf("start(%q, %q) succeeded", c.iname, c.table)
		}
	}
	for i := 0; i < MaxIterators; i++ {
		if IteratorStart(ctx, "i"+strconv.Itoa(i), "t") != 1 {
			t.Fatalf("iterator %d refused", i)
		}
	}
	if IteratorStart(ctx, "one-too-many", "t") != -1 {
		t.Error("a fifth iterator started")
	}
	// Restarting a running one is fine and starts over.
	IteratorNext(ctx, "i0")
	if IteratorStart(ctx, "i0", "t") != 1 || IteratorNext(ctx, "i0") != 1 {
		t.Error("restarting i0 failed")
	}
	if IteratorNext(ctx, "nosuch") != -1 {
		t.Error("next of an unknown iterator is not -1")
	}
}

// A script that never calls sht_iterator_end: the next message gets all
// its iterators back, and nothing of the old snapshot stays referenced.
func TestIterator_ForgottenEndFreedByNextMessage(t *testing.T) {
	ctx, _ := setup(t, "t=>size=2") // 4 shards of some 5000 items each
	for i := 0; i < 20000; i++ {
		Seti(ctx, "t", "k"+strconv.Itoa(i), i)
	}
	for i := 0; i < MaxIterators; i++ {
		IteratorStart(ctx, "i"+strconv.Itoa(i), "t")
		IteratorNext(ctx, "i"+strconv.Itoa(i))
	}
	if c := cached(ctx); cap(c.iters[0].items) <= keepSnapshot {
		t.Fatalf("snapshot of %d items, want over %d for this test", cap(c.iters[0].items), keepSnapshot)
	}
	if IteratorStart(ctx, "x", "t") != -1 {
		t.Fatal("a fifth iterator started in the same message")
	}
	ctx.Reset(ctx.Msg, ksrtest.Src, ctx.Local, core.UDP)
	if IteratorNext(ctx, "i0") != -1 {
		t.Error("an iterator of the last message is still running")
	}
	c := cached(ctx)
	for i := range c.iters {
		if c.iters[i].name != "" || len(c.iters[i].items) != 0 || cap(c.iters[i].items) > keepSnapshot {
			t.Errorf("iterator %d kept %q with %d items (cap %d)", i, c.iters[i].name, len(c.iters[i].items), cap(c.iters[i].items))
		}
	}
	if IteratorStart(ctx, "x", "t") != 1 {
		t.Error("the next message cannot start an iterator")
	}
}

// No lock is held between calls: another worker's writes do not wait for
// an iterator standing in their shard.
func TestIterator_HoldsNoLock(t *testing.T) {
	ctx, _ := setup(t, "t=>size=1")
	Seti(ctx, "t", "a", 1)
	Seti(ctx, "t", "b", 2)
	IteratorStart(ctx, "i", "t")
	IteratorNext(ctx, "i")
	tb := Of(ctx.RT).Table("t")
	done := make(chan struct{})
	go func() { tb.Set("c", item{n: 3}, 0); close(done) }()
	<-done
	if Lock(ctx, "t", "a") != 1 || Unlock(ctx, "t", "a") != 1 {
		t.Error("sht_lock blocked by an iterator")
	}
}

func TestIterator_NoAllocsSteadyState(t *testing.T) {
	ctx, _ := setup(t, "t=>size=2")
	for i := 0; i < 50; i++ {
		Seti(ctx, "t", "k"+strconv.Itoa(i), i)
	}
	key := core.LookupPV("shtitkey")
	buf := make([]byte, 0, 64)
	run := func() {
		IteratorStart(ctx, "i", "t")
		for IteratorNext(ctx, "i") > 0 {
			key(ctx, "i", buf[:0])
		}
		IteratorEnd(ctx, "i")
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("a walk over 50 items allocates %v times, want 0", n)
	}
}

func BenchmarkIterate1000(b *testing.B) {
	ctx, _ := setup(b, "t=>size=4")
	for i := 0; i < 1000; i++ {
		Seti(ctx, "t", "k"+strconv.Itoa(i), i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		IteratorStart(ctx, "i", "t")
		for IteratorNext(ctx, "i") > 0 {
		}
		IteratorEnd(ctx, "i")
	}
}
