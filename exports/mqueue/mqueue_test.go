package mqueue

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// setup returns a worker context whose runtime has the given params.
func setup(t testing.TB, params map[string][]core.Value) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("mqueue"))
	ctx.RT.Params = map[string]map[string][]core.Value{"mqueue": params}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func defs(ds ...string) map[string][]core.Value {
	var vs []core.Value
	for _, d := range ds {
		vs = append(vs, core.Str(d))
	}
	return map[string][]core.Value{"mqueue": vs}
}

// worker2 is a second worker sharing ctx's runtime.
func worker2(t testing.TB, ctx *core.Ctx) *core.Ctx {
	c := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	c.RT = ctx.RT
	return c
}

func TestParseDef(t *testing.T) {
	q, err := ParseDef("name=myq;size=20;")
	if err != nil || q.Name != "myq" || q.Size != 20 || q.AddMode != 0 {
		t.Fatalf("ParseDef = %+v, %v", q, err)
	}
	q, err = ParseDef(` NAME = "my q" ; addmode=2; dbmode=0`)
	if err != nil || q.Name != "my q" || q.Size != DefaultSize || q.AddMode != 2 || q.keys == nil {
		t.Fatalf("ParseDef = %+v, %v", q, err)
	}
	for def, want := range map[string]string{
		"":                   "expected name=",
		"size=3":             "expected name=",
		"name=q;size=x":      "size=x: expected an integer",
		"name=q;size=-1":     "size=-1",
		"name=q;addmode=3":   "addmode=3: expected an integer 0-2",
		"name=q;dbmode=1":    "no database",
		"name=q;colour=blue": `unknown attribute "colour"`,
	} {
		_, err := ParseDef(def)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDef(%q) = %v, want %q", def, err, want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	for _, c := range []struct {
		params map[string][]core.Value
		want   string
	}{
		{defs("name=a", "name=a"), `"a" defined twice`},
		{map[string][]core.Value{"mqueue_name": {core.Str("a")}, "mqueue": {core.Str("name=a")}}, "defined twice"},
		{map[string][]core.Value{"mqueue_name": {core.Str("")}}, "expected a queue name"},
		{map[string][]core.Value{"mqueue_name": {core.Str("a")}, "mqueue_addmode": {core.Int(7)}}, "expected 0, 1 or 2"},
		{defs("name=a;dbmode=2"), "no database"},
	} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("mqueue"))
		ctx.RT.Params = map[string]map[string][]core.Value{"mqueue": c.params}
		if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("start(%v) = %v, want %q", c.params, err, c.want)
		}
	}
}

func TestAddFetchSize(t *testing.T) {
	ctx := setup(t, defs("name=q;size=3"))
	if Size(ctx, "q") != 0 || Fetch(ctx, "q") != -2 {
		t.Error("empty queue: want size 0 and fetch -2")
	}
	for i := 1; i <= 4; i++ {
		if Add(ctx, "q", "k"+strconv.Itoa(i), "v"+strconv.Itoa(i)) != 1 {
			t.Fatal("add failed")
		}
	}
	if Size(ctx, "q") != 3 {
		t.Errorf("size %d, want 3 (the oldest dropped)", Size(ctx, "q"))
	}
	mqk, mqv := core.LookupPV("mqk"), core.LookupPV("mqv")
	var got []string
	for Fetch(ctx, "q") > 0 {
		k, _ := mqk(ctx, "q", nil)
		v, _ := mqv(ctx, "q", nil)
		got = append(got, string(k)+"="+string(v))
		if MqkGet(ctx, "q") != core.Str(string(k)) || MqvGete(ctx, "q") != core.Str(string(v)) {
			t.Error("mqk_get/mqv_gete differ from $mqk/$mqv")
		}
	}
	if strings.Join(got, ",") != "k2=v2,k3=v3,k4=v4" {
		t.Errorf("fetched %v", got)
	}
	// The failed fetch let the last item go.
	if _, ok := mqk(ctx, "q", nil); ok || MqkGet(ctx, "q") != core.Null() || MqvGetw(ctx, "q") != core.Str("<null>") || MqkGete(ctx, "q") != core.Str("") {
		t.Error("the item is still readable after a fetch found the queue empty")
	}
	Add(ctx, "q", "a", "b")
	Fetch(ctx, "q")
	if PVFree(ctx, "q") != 1 || MqvGet(ctx, "q") != core.Null() || MqkGetw(ctx, "q") != core.Str("<null>") {
		t.Error("mq_pv_free did not forget the item")
	}
	for _, f := range []func() int{
		func() int { return Add(ctx, "nosuch", "k", "v") },
		func() int { return Fetch(ctx, "nosuch") },
		func() int { return Size(ctx, "nosuch") },
	} {
		if f() != -1 {
			t.Error("a missing queue did not give -1")
		}
	}
	if PVFree(ctx, "nosuch") != 1 {
		t.Error("mq_pv_free of a missing queue is not 1 (as in Kamailio)")
	}
	if b, ok := core.LookupPV("mq_size")(ctx, "q", nil); !ok || string(b) != "0" {
		t.Errorf("$mq_size(q) = %q %v", b, ok)
	}
	if _, ok := core.LookupPV("mq_size")(ctx, "nosuch", nil); ok {
		t.Error("$mq_size of a missing queue has a value")
	}
}

func TestAddModes(t *testing.T) {
	ctx := setup(t, defs("name=oldest;addmode=1", "name=newest;addmode=2;size=10"))
	for _, q := range []string{"oldest", "newest"} {
		Add(ctx, q, "a", "1")
		Add(ctx, q, "b", "2")
		Add(ctx, q, "a", "3")
	}
	drain := func(q string) string {
		var s []string
		for Fetch(ctx, q) > 0 {
			s = append(s, MqkGet(ctx, q).S+"="+MqvGet(ctx, q).S)
		}
		return strings.Join(s, ",")
	}
	if got := drain("oldest"); got != "a=1,b=2" {
		t.Errorf("addmode 1: %s, want a=1,b=2", got)
	}
	if got := drain("newest"); got != "b=2,a=3" {
		t.Errorf("addmode 2: %s, want b=2,a=3", got)
	}
	// After draining, the key counts are gone: a key can come back.
	Add(ctx, "oldest", "a", "4")
	if drain("oldest") != "a=4" || len(Of(ctx.RT).Queue("oldest").keys) != 0 {
		t.Error("addmode 1 remembered a fetched key")
	}
}

func TestModparamNameAndSize(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{
		"mqueue_name":    {core.Str("n1"), core.Str("n2")},
		"mqueue_size":    {core.Int(2)},
		"mqueue_addmode": {core.Int(1)},
	})
	q := Of(ctx.RT).Queue("n2")
	if q == nil || q.Size != 2 || q.AddMode != 1 {
		t.Fatalf("n2 = %+v", q)
	}
	if Of(ctx.RT).Queue("N2") != nil {
		t.Error("queue names are case-sensitive in Kamailio")
	}
}

// Queues are shared; what a worker fetched is its own.
func TestWorkersShareQueuesNotItems(t *testing.T) {
	ctx := setup(t, defs("name=q"))
	other := worker2(t, ctx)
	Add(ctx, "q", "k1", "v1")
	Add(other, "q", "k2", "v2")
	if Fetch(other, "q") != 1 || MqkGet(other, "q") != core.Str("k1") {
		t.Error("the other worker did not take the oldest item")
	}
	if MqkGet(ctx, "q") != core.Null() {
		t.Error("the first worker sees the other's item")
	}
	Fetch(ctx, "q")
	if MqkGet(ctx, "q") != core.Str("k2") || MqkGet(other, "q") != core.Str("k1") {
		t.Error("fetched items mixed between workers")
	}
}

func TestConcurrentAddFetch(t *testing.T) {
	ctx := setup(t, defs("name=q;size=100000"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			w := worker2(t, ctx)
			for i := 0; i < 1000; i++ {
				Add(w, "q", strconv.Itoa(g)+"-"+strconv.Itoa(i), "v")
			}
		}()
		go func() {
			defer wg.Done()
			w := worker2(t, ctx)
			for i := 0; i < 1000; i++ {
				if Fetch(w, "q") > 0 {
					k := MqkGet(w, "q").S
					mu.Lock()
					if seen[k] {
						t.Errorf("%s fetched twice", k)
					}
					seen[k] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(seen)+Size(ctx, "q") != 4000 {
		t.Errorf("fetched %d + left %d, want 4000", len(seen), Size(ctx, "q"))
	}
}

// Hostile input: a queue without a size stays at DefaultSize items, huge
// values are bounded by MaxBytes, and an oversized item is refused.
func TestHostile_QueuesStayBounded(t *testing.T) {
	defer func(n int) { MaxBytes = n }(MaxBytes)
	MaxBytes = 1 << 20
	ctx := setup(t, defs("name=nosize", "name=bytes;size=1000000", "name=uniq;addmode=2"))
	for i := 0; i < DefaultSize+500; i++ {
		Add(ctx, "nosize", strconv.Itoa(i), "v")
	}
	if n := Size(ctx, "nosize"); n != DefaultSize {
		t.Errorf("queue without size holds %d items, want %d", n, DefaultSize)
	}
	Fetch(ctx, "nosize")
	if MqkGet(ctx, "nosize") != core.Str("500") {
		t.Errorf("oldest kept is %v, want 500", MqkGet(ctx, "nosize"))
	}
	big := strings.Repeat("x", 64<<10)
	for i := 0; i < 100; i++ {
		Add(ctx, "bytes", strconv.Itoa(i), big)
	}
	q := Of(ctx.RT).Queue("bytes")
	if n := Size(ctx, "bytes"); q.bytes > MaxBytes || n != 15 {
		t.Errorf("queue holds %d bytes in %d items, max %d", q.bytes, Size(ctx, "bytes"), MaxBytes)
	}
	if Add(ctx, "bytes", "k", strings.Repeat("y", MaxBytes+1)) != -1 {
		t.Error("an item over MaxBytes was queued")
	}
	// Many distinct keys in addmode 2 stay bounded too.
	for i := 0; i < 2*DefaultSize; i++ {
		Add(ctx, "uniq", strconv.Itoa(i%(DefaultSize+10)), "v")
	}
	if n, keys := Size(ctx, "uniq"), len(Of(ctx.RT).Queue("uniq").keys); n != DefaultSize || keys != DefaultSize {
		t.Errorf("addmode 2 queue: %d items, %d keys; want %d", n, keys, DefaultSize)
	}
	// The slice under a busy queue does not keep growing.
	for i := 0; i < 10*DefaultSize; i++ {
		Add(ctx, "nosize", "k", "v")
		Fetch(ctx, "nosize")
	}
	if c := cap(Of(ctx.RT).Queue("nosize").items); c > 2*DefaultSize+1024 {
		t.Errorf("queue slice capacity %d for %d items", c, DefaultSize)
	}
}

func TestPVNameFromVariable(t *testing.T) {
	ctx := setup(t, defs("name=q"))
	Add(ctx, "q", "k", "v")
	Fetch(ctx, "q")
	if b, ok := core.LookupPV("mqk")(ctx, "$nosuchpv", nil); ok {
		t.Errorf("$mqk($nosuchpv) = %q", b)
	}
	// $ci of the test INVITE is not a queue.
	if _, ok := core.LookupPV("mqv")(ctx, "$ci", nil); ok {
		t.Error("$mqv($ci) found a queue")
	}
}

func TestHotPathAllocs(t *testing.T) {
	ctx := setup(t, defs("name=q;size=100"))
	mqk := core.LookupPV("mqk")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(500, func() {
		Add(ctx, "q", "key", "value")
		Fetch(ctx, "q")
		mqk(ctx, "q", buf[:0])
		Size(ctx, "q")
	}); n != 0 {
		t.Errorf("add, fetch and read allocate %v times, want 0", n)
	}
}

func TestThunks(t *testing.T) {
	ctx := setup(t, defs("name=q"))
	reg, _ := core.NewRegistry(core.Known("mqueue"))
	if v := reg.Lookup("mqueue", "mq_add").Call(ctx, []core.Value{core.Str("q"), core.Str("k"), core.Str("v")}); v != core.Int(1) {
		t.Errorf("mq_add thunk = %v", v)
	}
	if v := reg.Lookup("mqueue", "mq_size").Call(ctx, []core.Value{core.Str("q")}); v != core.Int(1) {
		t.Errorf("mq_size thunk = %v", v)
	}
}

func FuzzParseDef(f *testing.F) {
	for _, s := range []string{"name=q;size=20;", `name="a;b";addmode=1`, "name=q;dbmode=0", ";;;", "name"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		q, err := ParseDef(def)
		if err == nil && (q.Name == "" || q.Size <= 0 || q.AddMode < 0 || q.AddMode > 2) {
			t.Errorf("ParseDef(%q) = %+v without error", def, q)
		}
	})
}

func BenchmarkAddFetch(b *testing.B) {
	ctx := setup(b, defs("name=q;size=1000"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Add(ctx, "q", "key", "value")
		Fetch(ctx, "q")
	}
}

func BenchmarkAddFetchParallel(b *testing.B) {
	ctx := setup(b, defs("name=q;size=1000"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := worker2(b, ctx)
		for pb.Next() {
			Add(w, "q", "key", "value")
			Fetch(w, "q")
		}
	})
}

// Hostile: a script naming queues from message data (many names, huge
// names) gets -1 and makes nothing grow.
func TestHostile_ManyUnknownQueueNames(t *testing.T) {
	ctx := setup(t, defs("name=q"))
	for i := 0; i < 10000; i++ {
		name := strconv.Itoa(i) + strings.Repeat("n", i%3*5000)
		if Add(ctx, name, "k", "v") != -1 || Fetch(ctx, name) != -1 || Size(ctx, name) != -1 || PVFree(ctx, name) != 1 {
			t.Fatalf("queue %d answered", i)
		}
	}
	if w := state(ctx); len(w.fetched) != 1 || len(Of(ctx.RT).list) != 1 {
		t.Errorf("state grew: %d fetched, %d queues", len(w.fetched), len(Of(ctx.RT).list))
	}
}
