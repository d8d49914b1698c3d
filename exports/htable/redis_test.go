package htable

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/testsvc"
)

// node starts htable with defs (and ndb_redis params) as one kemi node.
func node(t *testing.T, params map[string]map[string][]core.Value) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
	ctx.RT.Params = params
	ctx.RT.Log = &core.Logger{Level: core.LInfo, Out: testWriter{t}}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSweeper(ctx.RT) })
	return ctx
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func defs(ds ...string) map[string]map[string][]core.Value {
	var vs []core.Value
	for _, d := range ds {
		vs = append(vs, core.Str(d))
	}
	return map[string]map[string][]core.Value{"htable": {"htable": vs}}
}

// eventually waits up to a second for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within a second: %s", what)
}

// TestHtableRedis_SharedBetweenNodes (issue 18 item 5): two nodes with a
// table redis=: a set, a delete, an increment and a reset on one are seen
// by the other within a second; sht_inc is atomic across the nodes; an
// item's autoexpire is the Redis key's TTL; a node started later loads
// what is there; htable.reload reads Redis again.
func TestHtableRedis_SharedBetweenNodes(t *testing.T) {
	r := testsvc.StartRedis(t)
	def := "ipban=>size=4;autoexpire=300;initval=0;redis=" + r.URL(2)
	a, b := node(t, defs(def)), node(t, defs(def))
	eventually(t, "both subscribed", func() bool {
		Seti(a, "ipban", "probe", 1)
		return Get(b, "ipban", "probe").I == 1
	})
	Seti(a, "ipban", "192.0.2.1", 1)
	eventually(t, "set on a seen on b", func() bool { return Get(b, "ipban", "192.0.2.1").I == 1 })
	Sets(b, "ipban", "note", "two words")
	eventually(t, "string set on b seen on a", func() bool { return Get(a, "ipban", "note").S == "two words" })
	// The TTL is the autoexpire.
	cl := newClient(t, r.URL(2))
	if ttl := cl.PTTL(context.Background(), "kemi:htable:ipban:192.0.2.1").Val(); ttl < 299*time.Second || ttl > 300*time.Second {
		t.Fatalf("TTL %v, want the autoexpire 300s", ttl)
	}
	Setxi(a, "ipban", "short", 7, 1)
	eventually(t, "setxi seen", func() bool { return Get(b, "ipban", "short").I == 7 })
	time.Sleep(1100 * time.Millisecond)
	if n, _ := cl.Exists(context.Background(), "kemi:htable:ipban:short").Result(); n != 0 {
		t.Fatal("Redis kept an expired item")
	}
	if Get(b, "ipban", "short").I == 7 {
		t.Fatal("b still reads an item whose expiry passed")
	}
	// sht_inc from both nodes at once: every increment counts.
	done := make(chan bool)
	for _, c := range []*core.Ctx{a, b} {
		go func(c *core.Ctx) {
			for i := 0; i < 50; i++ {
				Inc(c, "ipban", "hits")
			}
			done <- true
		}(c)
	}
	<-done
	<-done
	if v, _ := cl.Get(context.Background(), "kemi:htable:ipban:hits").Result(); v != "100" {
		t.Fatalf("hits in Redis %q, want 100", v)
	}
	eventually(t, "counter in step", func() bool { return Get(a, "ipban", "hits").I == 100 && Get(b, "ipban", "hits").I == 100 })
	Rm(b, "ipban", "192.0.2.1")
	eventually(t, "delete on b seen on a", func() bool { return !has(a, "192.0.2.1") })
	// A node started later has what is there.
	c := node(t, defs(def))
	eventually(t, "late node loaded", func() bool { return Get(c, "ipban", "note").S == "two words" })
	// htable.reload after Redis was changed behind kemi's back.
	cl.Set(context.Background(), "kemi:htable:ipban:behind", "42", 0)
	out, err := rpcReload(c.RT, []core.Value{core.Str("ipban")})
	if err != nil || Get(c, "ipban", "behind").I != 42 {
		t.Fatalf("reload %v %v", out, err)
	}
	Reset(a, "ipban")
	eventually(t, "reset on a seen on b and c", func() bool {
		return !has(b, "note") && !has(c, "hits")
	})
	if _, err := rpcReload(node(t, defs("plain=>size=4")).RT, []core.Value{core.Str("plain")}); err == nil {
		t.Fatal("reload of a table without redis=")
	}
}

// TestHtableRedis_ServerNameAndOutage (issue 18 item 5): redis= names an
// ndb_redis server param; an unknown name is a start error; with Redis
// stopped writes stay local (logged, no crash) and when it is back the
// nodes load the table again on their own.
func TestHtableRedis_ServerNameAndOutage(t *testing.T) {
	r := testsvc.StartRedis(t)
	params := func() map[string]map[string][]core.Value {
		p := defs("ipban=>autoexpire=60;redis=srv")
		p["ndb_redis"] = map[string][]core.Value{"server": {core.Str("name=srv;addr=127.0.0.1;port=" + strconv.Itoa(r.Port) + ";db=4")}}
		return p
	}
	a, b := node(t, params()), node(t, params())
	eventually(t, "both subscribed", func() bool {
		Seti(a, "ipban", "probe", 1)
		return Get(b, "ipban", "probe").I == 1
	})
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
	ctx.RT.Params = defs("ipban=>redis=nope")
	if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), "no ndb_redis server named nope") {
		t.Fatalf("unknown server: %v", err)
	}
	r.Stop()
	Seti(a, "ipban", "during", 1) // logged, kept on a
	if Get(a, "ipban", "during").I != 1 {
		t.Fatal("a local write was lost while Redis was away")
	}
	Inc(a, "ipban", "cnt") // no initval: a missing item stays missing
	Setxi(a, "ipban", "cnt", 5, 0)
	if Inc(a, "ipban", "cnt") != 6 {
		t.Fatal("sht_inc while Redis is away: this node counts alone")
	}
	r.Start()
	Seti(a, "ipban", "after", 1)
	eventually(t, "b back in step", func() bool { return Get(b, "ipban", "after").I == 1 })
	// What a changed while Redis was away was written back, not dropped
	// by the reload, and reached b.
	eventually(t, "a's changes during the outage written back", func() bool {
		return Get(a, "ipban", "during").I == 1 && Get(b, "ipban", "during").I == 1 && Get(b, "ipban", "cnt").I == 6
	})
}

func newClient(t *testing.T, url string) *redis.Client {
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// has says whether ctx's node holds key in ipban (initval aside).
func has(ctx *core.Ctx, key string) bool {
	_, ok := Of(ctx.RT).Table("ipban").Get(key)
	return ok
}

// BenchmarkHtableRedis_SetGet (issue 18 item 5): the cost of a write to
// a shared table (one MULTI round trip: SET and PUBLISH) and of a read
// (the node's copy, no round trip).
func BenchmarkHtableRedis_SetGet(b *testing.B) {
	r := testsvc.StartRedis(b)
	ctx := ksrtest.Ctx(b, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
	ctx.RT.Params = defs("ipban=>size=8;autoexpire=300;redis=" + r.URL(7))
	if err := start(ctx.RT); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopSweeper(ctx.RT) })
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Seti(ctx, "ipban", "192.0.2.1", i)
		}
	})
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Get(ctx, "ipban", "192.0.2.1")
		}
	})
	b.Run("inc", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Inc(ctx, "ipban", "hits")
		}
	})
}
