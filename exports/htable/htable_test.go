package htable

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// setup returns a context whose runtime has the given table definitions
// loaded, and a clock the tables read (seconds are advanced by hand).
func setup(t testing.TB, defs ...string) (*core.Ctx, *int64) {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
	var vs []core.Value
	for _, d := range defs {
		vs = append(vs, core.Str(d))
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"htable": {"htable": vs}}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.RT.Stop)
	clock := new(int64)
	*clock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, tb := range Of(ctx.RT).byName {
		tb.now = func() int64 { return *clock }
	}
	return ctx, clock
}

func advance(clock *int64, secs int) { *clock += int64(secs) * int64(time.Second) }

func TestParseDef(t *testing.T) {
	tb, err := ParseDef("ipban=>size=8;autoexpire=300;")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name != "ipban" || tb.Autoexpire != 300*time.Second || len(tb.shards) != 256 || !tb.UpdateExpire || tb.HasInit {
		t.Errorf("ipban parsed as %+v with %d shards", tb, len(tb.shards))
	}
	tb, err = ParseDef(" cnt => initval=-3 ; updateexpire=0; size=2 ")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name != "cnt" || !tb.HasInit || tb.Init != -3 || tb.UpdateExpire || len(tb.shards) != 4 {
		t.Errorf("cnt parsed as %+v with %d shards", tb, len(tb.shards))
	}
	for def, want := range map[string]string{
		"ipban":                        `no "=>"`,
		"=>size=4":                     "expected a table name",
		"a b=>size=4":                  "table name",
		"t=>size=x":                    "size=x: expected an integer",
		"t=>autoexpire=-1":             "autoexpire=-1",
		"t=>size":                      "expected name=value",
		"t=>dbtable=ht;x":              "dbtable=ht;x",
		"t=>dbtable=h t":               "dbtable=h t: expected a table name",
		"t=>dbtable=htable;cols='a,b'": "remove cols",
		"t=>dbmode=1":                  "needs dbtable",
		"t=>dmqreplicate=1":            "no DMQ",
		"t=>colour=red":                `unknown attribute "colour"`,
		"t=>initval=ten":               "initval=ten",
		"t=>updateexpire=2":            "updateexpire=2",
	} {
		_, err := ParseDef(def)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), def) {
			t.Errorf("ParseDef(%q) = %v, want an error quoting it with %q", def, err, want)
		}
	}
	if tb, err := ParseDef("t=>dbtable=htable;dbmode=1"); err != nil || tb.DBTable != "htable" || tb.DBMode != 1 {
		t.Errorf("dbtable and dbmode: %+v %v", tb, err)
	}
	if _, err := ParseDef("t=>dmqreplicate=0;dbmode=0;cols='a,b'"); err != nil {
		t.Errorf("database attributes without dbtable: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	for _, c := range []struct {
		params map[string][]core.Value
		want   string
	}{
		{map[string][]core.Value{"htable": {core.Str("a=>size=2"), core.Str("a=>size=3")}}, "defined twice"},
		{map[string][]core.Value{"htable": {core.Str("a=>size=x")}}, `htable "a=>size=x"`},
		{map[string][]core.Value{"enable_dmq": {core.Int(1)}}, "enable_dmq"},
	} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
		ctx.RT.Params = map[string]map[string][]core.Value{"htable": c.params}
		if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("start(%v) = %v, want %q", c.params, err, c.want)
		}
	}
}

// The IP-ban flow of Kamailio's KEMI example: ban, check, expire.
func TestIPBan(t *testing.T) {
	ctx, clock := setup(t, "ipban=>size=8;autoexpire=300;")
	ip := "192.0.2.10"
	if MatchName(ctx, "ipban", "eq", ip) != -1 {
		t.Fatal("a fresh table matches")
	}
	if Seti(ctx, "ipban", ip, 1) != 1 {
		t.Fatal("sht_seti failed")
	}
	if MatchName(ctx, "ipban", "eq", ip) != 1 || MatchName(ctx, "ipban", "eq", "192.0.2.11") != -1 {
		t.Error("eq does not find exactly the banned IP")
	}
	if v := Get(ctx, "ipban", ip); v != core.Int(1) {
		t.Errorf("sht_get = %v", v)
	}
	advance(clock, 299)
	if MatchName(ctx, "ipban", "eq", ip) != 1 {
		t.Error("ban gone before autoexpire")
	}
	advance(clock, 2)
	if MatchName(ctx, "ipban", "eq", ip) != -1 || !Get(ctx, "ipban", ip).IsNull() {
		t.Error("ban still there after autoexpire")
	}
	// Setting again restarts the expiry (updateexpire=1).
	Seti(ctx, "ipban", ip, 1)
	advance(clock, 200)
	Seti(ctx, "ipban", ip, 2)
	advance(clock, 200)
	if Get(ctx, "ipban", ip) != core.Int(2) {
		t.Error("second set did not restart the expiry")
	}
}

func TestGetVariantsAndTypes(t *testing.T) {
	ctx, _ := setup(t, "c=>size=4", "n=>initval=7")
	Sets(ctx, "c", "s", "text")
	Seti(ctx, "c", "i", -5)
	for _, c := range []struct {
		got, want core.Value
	}{
		{Get(ctx, "c", "s"), core.Str("text")},
		{Get(ctx, "c", "i"), core.Int(-5)},
		{Get(ctx, "c", "missing"), core.Null()},
		{Gete(ctx, "c", "missing"), core.Str("")},
		{Getw(ctx, "c", "missing"), core.Str("<null>")},
		{Get(ctx, "nosuch", "k"), core.Null()},
		{Get(ctx, "n", "missing"), core.Int(7)},
	} {
		if c.got != c.want {
			t.Errorf("got %#v, want %#v", c.got, c.want)
		}
	}
	if IsNull(ctx, "c", "missing") != 1 || IsNull(ctx, "c", "s") != -1 || IsNull(ctx, "n", "x") != -2 || IsNull(ctx, "nosuch", "x") != 2 {
		t.Error("sht_is_null return codes differ from Kamailio's")
	}
	if Sets(ctx, "nosuch", "k", "v") != -1 || Seti(ctx, "nosuch", "k", 1) != -1 || Rm(ctx, "nosuch", "k") != -1 || Reset(ctx, "nosuch") != -1 {
		t.Error("writes to a missing table did not fail")
	}
	if Rm(ctx, "c", "s") != 1 || !Get(ctx, "c", "s").IsNull() {
		t.Error("sht_rm did not remove")
	}
	if Reset(ctx, "c") != 1 || !Get(ctx, "c", "i").IsNull() {
		t.Error("sht_reset did not empty the table")
	}
}

func TestIncDec(t *testing.T) {
	ctx, clock := setup(t, "plain=>size=2", "cnt=>initval=0;autoexpire=10")
	if Inc(ctx, "plain", "k") != NoIntVal {
		t.Error("sht_inc created an item in a table without initval")
	}
	Seti(ctx, "plain", "k", 41)
	if Inc(ctx, "plain", "k") != 42 || Dec(ctx, "plain", "k") != 41 {
		t.Error("inc/dec of an existing item")
	}
	Sets(ctx, "plain", "s", "x")
	if Inc(ctx, "plain", "s") != NoIntVal || Inc(ctx, "nosuch", "k") != NoIntVal {
		t.Error("inc of a string or in a missing table")
	}
	if Inc(ctx, "cnt", "a") != 1 || Inc(ctx, "cnt", "a") != 2 || Dec(ctx, "cnt", "b") != -1 {
		t.Error("inc/dec from initval")
	}
	advance(clock, 11)
	if Inc(ctx, "cnt", "a") != 1 {
		t.Error("an expired counter did not restart from initval")
	}
}

func TestExpiryControls(t *testing.T) {
	ctx, clock := setup(t, "t=>autoexpire=100;updateexpire=0", "never=>size=2")
	Seti(ctx, "t", "k", 1)
	advance(clock, 60)
	Seti(ctx, "t", "k", 2) // updateexpire=0 keeps the first expiry
	advance(clock, 50)
	if !Get(ctx, "t", "k").IsNull() {
		t.Error("updateexpire=0: set restarted the expiry")
	}
	Setxi(ctx, "t", "x", 5, 5)
	Setxs(ctx, "t", "y", "v", 500)
	advance(clock, 6)
	if !Get(ctx, "t", "x").IsNull() || Get(ctx, "t", "y") != core.Str("v") {
		t.Error("per-item expiry of setxi/setxs")
	}
	Seti(ctx, "t", "z", 1)
	if Setex(ctx, "t", "z", 0) != 1 {
		t.Fatal("setex")
	}
	advance(clock, 1000)
	if Get(ctx, "t", "z") != core.Int(1) {
		t.Error("setex 0 did not make the item permanent")
	}
	Setex(ctx, "t", "z", 3)
	advance(clock, 4)
	if !Get(ctx, "t", "z").IsNull() {
		t.Error("setex 3 did not expire the item")
	}
	// As in Kamailio, expiry counts only in tables with autoexpire.
	Setxi(ctx, "never", "k", 1, 1)
	advance(clock, 10)
	if Get(ctx, "never", "k") != core.Int(1) {
		t.Error("an item of a table without autoexpire expired")
	}
	if Setex(ctx, "nosuch", "k", 1) != -1 {
		t.Error("setex on a missing table")
	}
}

func TestSweep(t *testing.T) {
	ctx, clock := setup(t, "t=>autoexpire=10")
	tb := Of(ctx.RT).Table("t")
	Seti(ctx, "t", "a", 1)
	Seti(ctx, "t", "b", 1)
	advance(clock, 5)
	Seti(ctx, "t", "c", 1)
	advance(clock, 6)
	if n := tb.Sweep(); n != 2 {
		t.Errorf("sweep removed %d items, want 2", n)
	}
	if tb.Len() != 1 {
		t.Errorf("%d items left, want 1", tb.Len())
	}
}

func TestMatchAndRemoveOps(t *testing.T) {
	ctx, _ := setup(t, "t=>size=3")
	for _, k := range []string{"sip:alice@a", "sip:bob@b", "tel:123"} {
		Sets(ctx, "t", k, "v-"+k)
	}
	Seti(ctx, "t", "n", 9)
	for _, c := range []struct {
		op, val string
		want    int
	}{
		{"eq", "tel:123", 1}, {"eq", "tel:1", -1},
		{"ne", "tel:123", 1},
		{"sw", "sip:", 1}, {"sw", "mailto:", -1},
		{"re", "^SIP:B", 1}, {"re", "^x", -1}, {"re", "(", -1},
		{"xx", "a", -1}, {"ew", "a", -1},
	} {
		if got := MatchName(ctx, "t", c.op, c.val); got != c.want {
			t.Errorf("sht_match_name(%s, %q) = %d, want %d", c.op, c.val, got, c.want)
		}
	}
	if MatchStrValue(ctx, "t", "eq", "v-tel:123") != 1 || MatchStrValue(ctx, "t", "eq", "9") != -1 {
		t.Error("sht_match_str_value compares string values only")
	}
	if MatchName(ctx, "nosuch", "eq", "x") != -1 {
		t.Error("match in a missing table")
	}
	if Cn(ctx, "t", "**", "") != 4 || Cn(ctx, "t", "%~", "sip:") != 2 || Cn(ctx, "t", "~%", "@b") != 1 ||
		Cn(ctx, "t", "==", "n") != 1 || Cn(ctx, "t", "", "^(sip|tel)") != 3 || Cn(ctx, "t", "?", "") != -1 {
		t.Error("sht_cn counts")
	}
	if RmName(ctx, "t", "eq", "n") != -1 || RmName(ctx, "t", "zz", "n") != -1 {
		t.Error("sht_rm_name accepted an operator Kamailio rejects")
	}
	if RmName(ctx, "t", "ew", "@a") != 1 || MatchName(ctx, "t", "eq", "sip:alice@a") != -1 || Cn(ctx, "t", "**", "") != 3 {
		t.Error("sht_rm_name ew")
	}
	if RmValueRe(ctx, "t", "^v-tel") != 1 || Get(ctx, "t", "tel:123").Kind != core.KNull {
		t.Error("sht_rm_value_re")
	}
	if RmValue(ctx, "t", "in", "bob") != 1 || Cn(ctx, "t", "**", "") != 1 {
		t.Error("sht_rm_value in")
	}
	if RmNameRe(ctx, "t", ".") != 1 || Cn(ctx, "t", "**", "") != 0 {
		t.Error("sht_rm_name_re")
	}
	if RmNameRe(ctx, "nosuch", ".") != 1 || RmNameRe(ctx, "t", "(") != -1 {
		t.Error("sht_rm_name_re return codes")
	}
}

func TestPV(t *testing.T) {
	ctx, _ := setup(t, "ipban=>size=8;autoexpire=300;", "n=>initval=3")
	set := core.LookupPVSetter("sht")
	get := core.LookupPV("sht")
	if err := set(ctx, "ipban=>$si", core.Int(1)); err != nil {
		t.Fatal(err)
	}
	if Get(ctx, "ipban", ksrtest.Src.Addr().String()) != core.Int(1) {
		t.Error("$sht(ipban=>$si) did not set the source IP's item")
	}
	if b, ok := get(ctx, "ipban=>192.0.2.10", nil); !ok || string(b) != "1" {
		t.Errorf("$sht(ipban=>192.0.2.10) = %q, %v", b, ok)
	}
	set(ctx, "ipban=>k", core.Str("v"))
	if b, ok := get(ctx, "ipban => k", nil); !ok || string(b) != "v" {
		t.Errorf("$sht(ipban => k) = %q, %v", b, ok)
	}
	set(ctx, "ipban=>k", core.Null())
	if _, ok := get(ctx, "ipban=>k", nil); ok {
		t.Error("null did not remove the item")
	}
	if b, ok := get(ctx, "n=>missing", nil); !ok || string(b) != "3" {
		t.Errorf("$sht(n=>missing) = %q, %v, want the initval", b, ok)
	}
	for arg, want := range map[string]string{"ipban": "expected $sht(table=>key)", "nosuch=>k": "no such htable", "ipban=>$nosuchpv": "has no value"} {
		if err := set(ctx, arg, core.Int(1)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("set $sht(%s) = %v, want %q", arg, err, want)
		}
	}
	if _, ok := get(ctx, "nosuch=>k", nil); ok {
		t.Error("a missing table gave a value")
	}
}

// Workers share tables: concurrent increments are not lost.
func TestConcurrentInc(t *testing.T) {
	ctx, _ := setup(t, "cnt=>initval=0;size=2")
	tb := Of(ctx.RT).Table("cnt")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				tb.Add("k", 1)
				tb.Set("other", item{n: int64(i)}, 0)
			}
		}()
	}
	wg.Wait()
	if it, _ := tb.Get("k"); it.n != 8000 {
		t.Errorf("count %d, want 8000", it.n)
	}
}

func TestThunks(t *testing.T) {
	ctx, _ := setup(t, "ipban=>size=8;autoexpire=300;")
	reg, _ := core.NewRegistry(core.Known("htable"))
	e := reg.Lookup("htable", "sht_seti")
	if v := e.Call(ctx, []core.Value{core.Str("ipban"), core.Str("1.2.3.4"), core.Int(1)}); v != core.Int(1) {
		t.Errorf("sht_seti thunk = %v", v)
	}
	v := e.Call(ctx, []core.Value{core.Str("ipban"), core.Str("1.2.3.4"), core.Str("1")})
	if v.Kind != core.KError || !strings.Contains(ctx.Err().Error(), "KSR.htable.sht_seti: expected (str, str, int), got (str, str, str)") {
		t.Errorf("bad args gave %v", v)
	}
	if v := reg.Lookup("htable", "sht_get").Call(ctx, []core.Value{core.Str("ipban"), core.Str("1.2.3.4")}); v != core.Int(1) {
		t.Errorf("sht_get thunk = %v", v)
	}
}

func TestHotPathAllocs(t *testing.T) {
	ctx, _ := setup(t, "ipban=>size=8;autoexpire=300;")
	Seti(ctx, "ipban", "192.0.2.10", 1)
	get := core.LookupPV("sht")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(500, func() {
		MatchName(ctx, "ipban", "eq", "192.0.2.99")
		MatchName(ctx, "ipban", "eq", "192.0.2.10")
		Seti(ctx, "ipban", "192.0.2.10", 1)
		Get(ctx, "ipban", "192.0.2.10")
		get(ctx, "ipban=>$si", buf[:0])
		Lock(ctx, "ipban", "192.0.2.10")
		Unlock(ctx, "ipban", "192.0.2.10")
	}); n != 0 {
		t.Errorf("ban check and refresh allocate %v times, want 0", n)
	}
}

func BenchmarkMatchNameEq(b *testing.B) {
	ctx, _ := setup(b, "ipban=>size=8;autoexpire=300;")
	for i := 0; i < 10000; i++ {
		Seti(ctx, "ipban", "10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MatchName(ctx, "ipban", "eq", "192.0.2.10")
	}
}

func BenchmarkSetiParallel(b *testing.B) {
	ctx, _ := setup(b, "cnt=>size=8")
	tb := Of(ctx.RT).Table("cnt")
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tb.Set(keys[i&7], item{n: 1}, 0)
			i++
		}
	})
}

func FuzzParseDef(f *testing.F) {
	for _, s := range []string{"ipban=>size=8;autoexpire=300;", "a=>initval=1;updateexpire=0", "x", "=>", "t=>size=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		tb, err := ParseDef(def)
		if err == nil && (tb.Name == "" || len(tb.shards) == 0 || len(tb.shards) > maxShards) {
			t.Errorf("%q gave table %q with %d shards", def, tb.Name, len(tb.shards))
		}
	})
}

func TestOtherPVs(t *testing.T) {
	ctx, clock := setup(t, "t=>autoexpire=60", "c=>initval=0")
	Seti(ctx, "t", "a", 1)
	Sets(ctx, "t", "b", "text")
	Seti(ctx, "t", "n", 7)
	get := func(name, arg string) string {
		b, ok := core.LookupPV(name)(ctx, arg, nil)
		if !ok {
			return "<null>"
		}
		return string(b)
	}
	advance(clock, 10)
	if got := get("shtex", "t=>a"); got != "50" {
		t.Errorf("$shtex = %s, want 50", got)
	}
	if err := core.LookupPVSetter("shtex")(ctx, "t=>a", core.Int(5)); err != nil || get("shtex", "t=>a") != "5" {
		t.Errorf("setting $shtex: %v, now %s", err, get("shtex", "t=>a"))
	}
	if get("shtex", "t=>missing") != "0" || get("shtex", "c=>x") != "0" || get("shtex", "nosuch=>x") != "<null>" {
		t.Error("$shtex of missing things")
	}
	if get("shtinc", "c=>k") != "1" || get("shtinc", "c=>k") != "2" || get("shtdec", "c=>k") != "1" || get("shtinc", "t=>b") != "<null>" {
		t.Error("$shtinc/$shtdec")
	}
	for arg, want := range map[string]string{"t=>**": "3", "t=>~~^[ab]$": "2", "t=>==n": "1", "t=>%~x": "0", "t=>??": "<null>", "t=>~~(": "<null>"} {
		if got := get("shtcn", arg); got != want {
			t.Errorf("$shtcn(%s) = %s, want %s", arg, got, want)
		}
	}
	if get("shtcv", "t=>eq7") != "1" || get("shtcv", "t=>~~^te") != "1" || get("shtcv", "t=>eqx") != "<null>" {
		t.Error("$shtcv")
	}
}

func TestLock(t *testing.T) {
	old := LockWait
	LockWait = time.Hour // this test must not depend on how fast the machine is
	defer func() { LockWait = old }()
	ctx, _ := setup(t, "calls=>size=2")
	other := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
	other.RT = ctx.RT
	if Lock(ctx, "calls", "alice") != 1 || Lock(ctx, "calls", "alice") != 1 {
		t.Fatal("lock (twice, re-entrant) failed")
	}
	// Data access is not blocked by the script lock.
	if Seti(other, "calls", "alice", 1) != 1 || Get(other, "calls", "alice") != core.Int(1) {
		t.Error("data access blocked")
	}
	got := make(chan int)
	go func() { got <- Lock(other, "calls", "alice") }()
	if Unlock(ctx, "calls", "alice") != 1 {
		t.Fatal("first unlock")
	}
	select {
	case <-got:
		t.Fatal("the other worker got the lock while it was still held once")
	default:
	}
	Unlock(ctx, "calls", "alice")
	if <-got != 1 {
		t.Fatal("the other worker did not get the lock after the last unlock")
	}
	if Unlock(ctx, "calls", "alice") != -1 {
		t.Error("unlock of a lock this worker does not hold")
	}
	// The other worker forgets to unlock; its next message frees the lock.
	other.Reset(other.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	Get(other, "calls", "x")
	if Lock(ctx, "calls", "alice") != 1 || Unlock(ctx, "calls", "alice") != 1 {
		t.Error("a forgotten lock was not freed by the worker's next message")
	}
	if Lock(ctx, "nosuch", "k") != -1 || Unlock(ctx, "nosuch", "k") != -1 {
		t.Error("locks in a missing table")
	}
}
