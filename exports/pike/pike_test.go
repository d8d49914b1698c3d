package pike

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

const sec = int64(time.Second)

// setup loads pike with the modparams of Kamailio's KEMI example config
// plus extra, and freezes the clock.
func setup(t testing.TB, extra map[string]int64) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("pike"))
	p := map[string][]core.Value{
		"sampling_time_unit":    {core.Int(2)},
		"reqs_density_per_unit": {core.Int(16)},
		"remove_latency":        {core.Int(4)},
	}
	for k, v := range extra {
		p[k] = []core.Value{core.Int(v)}
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"pike": p}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.RT.Stop)
	old := now
	now = func() int64 { return 1000 * sec }
	t.Cleanup(func() { now = old })
	return ctx
}

func tree(ctx *core.Ctx) *Tree { return stateOf(ctx).tree }

// A new IPv4 address warms its 4 prefix levels (4 hits each at density
// 16, the split taking one more) before it counts as an address: Kamailio
// blocks the 22nd request, then keeps blocking.
func TestFloodBlocksAt22(t *testing.T) {
	ctx := setup(t, nil)
	for i := 1; i <= 21; i++ {
		if r := CheckReq(ctx); r != 1 {
			t.Fatalf("request %d: %d, want 1", i, r)
		}
	}
	if r := CheckReq(ctx); r != -2 {
		t.Fatalf("request 22: %d, want -2 (newly blocked)", r)
	}
	if r := CheckReq(ctx); r != -1 {
		t.Fatalf("request 23: %d, want -1 (still blocked)", r)
	}
	// Another address in another branch is not affected.
	ctx.Src = netip.MustParseAddrPort("198.51.100.7:5060")
	if r := CheckReq(ctx); r != 1 {
		t.Errorf("other address: %d", r)
	}
}

func TestUnblockAfterQuietUnits(t *testing.T) {
	ctx := setup(t, nil)
	tr := tree(ctx)
	for CheckReq(ctx) != -2 {
	}
	// Next unit: the previous unit was hot, so still blocked.
	if n := tr.Swap(); n != 0 {
		t.Fatalf("unblocked %d right after the flood", n)
	}
	if r := CheckReq(ctx); r != -1 {
		t.Errorf("one unit later: %d, want -1", r)
	}
	// A quiet unit: the average drops under the limit.
	if n := tr.Swap(); n != 1 {
		t.Fatalf("unblocked %d after a quiet unit, want 1", n)
	}
	if r := CheckReq(ctx); r != 1 {
		t.Errorf("after a quiet unit: %d, want 1", r)
	}
}

func TestCleanForgetsIdleAddresses(t *testing.T) {
	ctx := setup(t, nil)
	tr := tree(ctx)
	for i := 0; i < 8; i++ {
		CheckReq(ctx) // grows all 4 levels
	}
	if tr.Len() != 4 {
		t.Fatalf("%d nodes, want 4", tr.Len())
	}
	if n := tr.Clean(1000*sec + 3*sec); n != 0 {
		t.Errorf("cleaned %d nodes before remove_latency", n)
	}
	// The leaf goes first; each father then waits its own latency.
	total := 0
	for s := int64(5); s < 60; s++ {
		total += tr.Clean(1000*sec + s*sec)
	}
	if total != 4 || tr.Len() != 0 {
		t.Errorf("cleaned %d, %d left; want all 4 gone", total, tr.Len())
	}
	if r := CheckReq(ctx); r != 1 || tr.Len() != 1 {
		t.Errorf("after cleaning, a request starts over: %d, %d nodes", r, tr.Len())
	}
}

// A flood from spoofed addresses all over the address space grows one
// node per hot prefix, not one per address, and max_nodes caps the rest.
func TestSpoofedFloodIsBounded(t *testing.T) {
	ctx := setup(t, map[string]int64{"max_nodes": 5000})
	tr := tree(ctx)
	x := uint32(2463534242)
	for i := 0; i < 200000; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		a := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		ctx.Src = netip.AddrPortFrom(a, 5060)
		if r := CheckReq(ctx); r == -2 {
			t.Fatalf("spoofed address %v blocked after one request", a)
		}
	}
	if tr.Len() > 5000 {
		t.Errorf("%d nodes, max_nodes is 5000", tr.Len())
	}
	if tr.Clean(1000*sec+3600*sec) == 0 {
		t.Error("nothing cleaned after an hour")
	}
}

func TestIPv6AndCheckIP(t *testing.T) {
	ctx := setup(t, map[string]int64{"reqs_density_per_unit": 4})
	ip := "2001:db8::1"
	// Density 4: a prefix splits on its second hit, so 16 levels, then 4.
	n := 0
	for CheckIP(ctx, ip) > 0 {
		n++
		if n > 100 {
			t.Fatal("never blocked")
		}
	}
	if n != 16+3 {
		t.Errorf("blocked after %d requests, want 19", n+1)
	}
	// An IPv4-mapped source counts as the IPv4 address.
	ctx.Src = netip.MustParseAddrPort("[::ffff:192.0.2.99]:5060")
	CheckReq(ctx)
	if tree(ctx).branches[192].root == nil {
		t.Error("IPv4-mapped source not counted under 192")
	}
	for _, bad := range []string{"", "x", "1.2.3", "fe80::1%eth0"} {
		if r := CheckIP(ctx, bad); r != BadIP {
			t.Errorf("pike_check_ip(%q) = %d, want %d", bad, r, BadIP)
		}
	}
}

func TestParams(t *testing.T) {
	for name, v := range map[string]int64{"sampling_time_unit": 0, "reqs_density_per_unit": 70000, "remove_latency": -1} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("pike"))
		ctx.RT.Params = map[string]map[string][]core.Value{"pike": {name: {core.Int(v)}}}
		if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%d: %v", name, v, err)
		}
	}
	// Defaults are Kamailio's.
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("pike"))
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	defer ctx.RT.Stop()
	if tr := tree(ctx); tr.maxHits != 30 || tr.timeout != 120*sec {
		t.Errorf("defaults: %d hits, %d ns", tr.maxHits, tr.timeout)
	}
}

func TestConcurrentWorkers(t *testing.T) {
	ctx := setup(t, nil)
	tr := tree(ctx)
	var wg sync.WaitGroup
	blocks := make([]int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := []byte{10, 0, 0, byte(g % 2)}
			for i := 0; i < 500; i++ {
				if tr.Mark(ip, 1000*sec) == NewBlock {
					blocks[g]++
				}
				if i%100 == 0 {
					tr.Swap()
					tr.Clean(1000 * sec)
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, b := range blocks {
		n += b
	}
	if n < 2 {
		t.Errorf("%d block events for two flooding addresses", n)
	}
}

func TestCheckAllocs(t *testing.T) {
	ctx := setup(t, nil)
	CheckReq(ctx)
	if n := testing.AllocsPerRun(1000, func() { CheckReq(ctx) }); n != 0 {
		t.Errorf("pike_check_req allocates %v times", n)
	}
}

func TestThunk(t *testing.T) {
	ctx := setup(t, nil)
	reg, _ := core.NewRegistry(core.Known("pike"))
	if v := reg.Lookup("pike", "pike_check_req").Call(ctx, nil); v != core.Int(1) {
		t.Errorf("pike_check_req thunk = %v", v)
	}
	if v := reg.Lookup("pike", "pike_check_ip").Call(ctx, []core.Value{core.Str("nope")}); v != core.Int(BadIP) {
		t.Errorf("pike_check_ip thunk = %v", v)
	}
}

func BenchmarkCheckReq(b *testing.B) {
	ctx := setup(b, map[string]int64{"reqs_density_per_unit": 0xfffe})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		CheckReq(ctx)
	}
}
