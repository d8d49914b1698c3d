package dispatcher

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	_ "kemi/exports/pv" // $ci, $fU, $var for hash_pvar and setid_pvname
	"kemi/sip"
)

// kamailioList is the example list of Kamailio's README, unchanged.
const kamailioList = `#
# dispatcher destination sets (groups)
#

# line format
# setid(int) destination(sip uri) flags(int,opt) priority(int,opt) attributes(str,opt)

# proxies
2 sip:127.0.0.1:5080;transport=tcp 0 10 class=4;prefix=448;strip=2
2 sip:127.0.0.1:5082;px=vx 0 5 duid=abc;socket=udp:192.168.0.125:5060;pipe=p10

# gateways
1 sip:127.0.0.1:7070 0 0 duid=xyz;maxload=20
1 sip:127.0.0.1:7072 0 5
1 sip:127.0.0.1:7074

`

const threeList = `1 sip:127.0.0.1:5081
1 sip:127.0.0.1:5082
1 sip:127.0.0.1:5083
`

// setup starts the module over list with the given params and returns a
// worker context holding an INVITE.
func setup(t testing.TB, list string, params map[string]core.Value) *core.Ctx {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("dispatcher"))
	ps := map[string][]core.Value{"list_file": {core.Str(path)}}
	for k, v := range params {
		ps[k] = []core.Value{v}
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"dispatcher": ps}
	ctx.RT.Log = &core.Logger{Level: core.LDbg, Out: &bytes.Buffer{}}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.RT.Stop)
	return ctx
}

// newMsg puts a new INVITE in ctx, with callID when not empty.
func newMsg(t testing.TB, ctx *core.Ctx, callID string, extra ...string) {
	t.Helper()
	raw := ksrtest.Invite(extra...)
	if callID != "" {
		raw = bytes.Replace(raw, []byte("a84b4c76e66710@pc33.example.org"), []byte(callID), 1)
	}
	m := new(sip.Msg)
	if err := m.Parse(raw); err != nil {
		t.Fatal(err)
	}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
}

func TestListFile_KamailioExampleReadsUnchanged(t *testing.T) {
	l, err := ParseList("dispatcher.list", []byte(kamailioList), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Sets) != 2 || l.Sets[0].ID != 1 || l.Sets[1].ID != 2 {
		t.Fatalf("sets = %+v", l.Sets)
	}
	s1 := l.Set(1)
	// By priority, highest first; file order among equals.
	var got []string
	for _, d := range s1.Dests {
		got = append(got, d.URI)
	}
	if want := "sip:127.0.0.1:7072 sip:127.0.0.1:7070 sip:127.0.0.1:7074"; strings.Join(got, " ") != want {
		t.Errorf("set 1 order = %v, want %s", got, want)
	}
	d := l.Find(1, "sip:127.0.0.1:7070")
	if d.DUID != "xyz" || d.MaxLoad != 20 || d.Addr != netip.MustParseAddrPort("127.0.0.1:7070") {
		t.Errorf("7070 = %+v", d)
	}
	d = l.Find(2, "sip:127.0.0.1:5080;transport=tcp")
	if d == nil || d.Proto != core.TCP || d.Priority != 10 || d.Attrs != "class=4;prefix=448;strip=2" {
		t.Errorf("5080 = %+v", d)
	}
	d = l.Find(2, "sip:127.0.0.1:5082;px=vx")
	if d.DUID != "abc" || d.Socket != "udp:192.168.0.125:5060" || StateLetters(d.Flags()) != "AX" {
		t.Errorf("5082 = %+v", d)
	}
	// The README's full line example.
	l, err = ParseList("x", []byte("1 sip:127.0.0.1:5080 0 0 duid=abc;socket=udp:192.168.0.125:5060;my=xyz;ping_from=sip:myproxy.com\n"), ParseOptions{})
	if err != nil || l.Sets[0].Dests[0].PingFrom != "sip:myproxy.com" {
		t.Fatalf("full line: %v %+v", err, l)
	}
}

func TestListFile_ErrorsNameFileAndLine(t *testing.T) {
	for list, want := range map[string]string{
		"1 sip:a.example\nx sip:b\n":                 `ds.list:2: expected a set id (integer) first, got "x"`,
		"\n\n1\n":                                    "ds.list:3: set 1: expected a destination URI",
		"1 sip:127.0.0.1 zz\n":                       `ds.list:1: sip:127.0.0.1: expected flags (an integer) after the URI, got "zz"`,
		"1 sip:127.0.0.1 0 high\n":                   `ds.list:1: sip:127.0.0.1: expected a priority (an integer) after the flags, got "high"`,
		"1 sip:127.0.0.1 0 0 maxload=-3\n":           "ds.list:1: sip:127.0.0.1: attribute maxload=-3: expected an integer 0 or more",
		"1 sip:127.0.0.1 0 0 socket=tcp:1.2.3.4:5\n": "attribute socket=tcp:1.2.3.4:5: expected a udp socket",
	} {
		_, err := ParseList("ds.list", []byte(list), ParseOptions{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", list, err, want)
		}
	}
	// A URI that does not parse is skipped with ds_load_mode 0, an error with 1.
	var warned []string
	l, err := ParseList("ds.list", []byte("1 http://x\n1 sip:127.0.0.1\n"), ParseOptions{Warn: func(s string) { warned = append(warned, s) }})
	if err != nil || len(l.Set(1).Dests) != 1 || len(warned) != 1 || !strings.Contains(warned[0], "ds.list:1: expected a sip: or sips: URI") {
		t.Errorf("load_mode 0: %v %v", err, warned)
	}
	if _, err := ParseList("ds.list", []byte("1 http://x\n"), ParseOptions{Strict: true}); err == nil {
		t.Error("load_mode 1 accepted a bad URI")
	}
	if _, err := ParseList("ds.list", []byte(strings.Repeat("x", MaxLineBytes+1)), ParseOptions{}); err == nil || !strings.Contains(err.Error(), "ds.list:1: line of") {
		t.Errorf("long line: %v", err)
	}
}

func TestHardening_ListFileTooBigIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.list")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("1 sip:127.0.0.1:5060\n")
	for n := 0; n <= MaxListBytes; n += len(line) {
		f.Write(line)
	}
	f.Close()
	m := &Module{path: path}
	if _, err := m.load(); err == nil || !strings.Contains(err.Error(), "expected at most") {
		t.Fatalf("a list over %d bytes: %v", MaxListBytes, err)
	}
}

// A db_url whose database does not answer stops the start, naming the
// URL without its password; a scheme kemi cannot read is an error too.
func TestListFile_DBURLUnreachable(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("dispatcher"))
	ctx.RT.Params = map[string]map[string][]core.Value{"dispatcher": {"db_url": {core.Str("mysql://u:secretpw@127.0.0.1:1/kamailio")}}}
	err := start(ctx.RT)
	if err == nil || !strings.Contains(err.Error(), "dispatcher: loading the sets") || strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("db_url: %v", err)
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"dispatcher": {"db_url": {core.Str("text:///etc/kamailio/db")}}}
	if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), "expected postgres://") {
		t.Fatalf("db_url text://: %v", err)
	}
}

func FuzzParseList(f *testing.F) {
	f.Add([]byte(kamailioList))
	f.Add([]byte(threeList))
	f.Add([]byte("1 sip:[::1]:5060;transport=tls 8 3 weight=50;rweight=10\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseList("fuzz", b, ParseOptions{})
		if err != nil {
			return
		}
		for _, s := range l.Sets {
			s.initWeights()
			for _, d := range s.Dests {
				_ = StateLetters(d.Flags())
				var dst []byte
				domainURI(dst, []byte("sip:bob@example.com;x=y?h=v"), d)
			}
		}
	})
}

// counts selects n times with alg, one new message (Call-ID) each.
func counts(t *testing.T, ctx *core.Ctx, alg, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		newMsg(t, ctx, fmt.Sprintf("call-%d@example.org", i))
		if r := SelectDst(ctx, 1, alg); r != 1 {
			t.Fatalf("alg %d: ds_select_dst = %d", alg, r)
		}
		got[ctx.DstURI]++
	}
	return got
}

func TestAlg4_RoundRobinEven(t *testing.T) {
	ctx := setup(t, threeList, nil)
	got := counts(t, ctx, AlgRoundRob, 3000)
	for _, p := range []string{"5081", "5082", "5083"} {
		if got["sip:127.0.0.1:"+p] != 1000 {
			t.Errorf("round robin: %v, want 1000 each", got)
		}
	}
}

func TestAlg9_WeightsWithin5Percent(t *testing.T) {
	ctx := setup(t, `1 sip:127.0.0.1:5081 0 0 weight=50
1 sip:127.0.0.1:5082 0 0 weight=30
1 sip:127.0.0.1:5083 0 0 weight=20
`, nil)
	got := counts(t, ctx, AlgWeight, 3000)
	for p, want := range map[string]int{"5081": 1500, "5082": 900, "5083": 600} {
		if c := got["sip:127.0.0.1:"+p]; c < want*95/100 || c > want*105/100 {
			t.Errorf("weight: %s got %d, want %d within 5%% (%v)", p, c, want, got)
		}
	}
	// Consecutive calls spread: no destination gets 10 in a row.
	newMsg(t, ctx, "")
	last, run := "", 0
	for i := 0; i < 100; i++ {
		SelectDst(ctx, 1, AlgWeight)
		if ctx.DstURI == last {
			if run++; run >= 10 {
				t.Fatalf("weight: %s %d times in a row", last, run)
			}
		} else {
			last, run = ctx.DstURI, 1
		}
	}
}

func TestAlg11_RelativeWeightFollowsActive(t *testing.T) {
	ctx := setup(t, `1 sip:127.0.0.1:5081 0 0 rweight=1
1 sip:127.0.0.1:5082 0 0 rweight=2
1 sip:127.0.0.1:5083 0 0 rweight=1
`, nil)
	got := counts(t, ctx, AlgRelWeight, 3000)
	for p, want := range map[string]int{"5081": 750, "5082": 1500, "5083": 750} {
		if c := got["sip:127.0.0.1:"+p]; c < want*95/100 || c > want*105/100 {
			t.Errorf("rweight: %s got %d, want %d (%v)", p, c, want, got)
		}
	}
	// The third inactive: 33/67/0.
	Of(ctx.RT).List().Find(1, "sip:127.0.0.1:5083").flags.Store(FlagInactive)
	got = counts(t, ctx, AlgRelWeight, 3000)
	if got["sip:127.0.0.1:5083"] != 0 || got["sip:127.0.0.1:5081"] < 950 || got["sip:127.0.0.1:5081"] > 1050 {
		t.Errorf("rweight with one inactive: %v", got)
	}
}

func TestAlg0to3_HashStable(t *testing.T) {
	ctx := setup(t, threeList, nil)
	// Call-ID: the same one always goes to the same destination; 300
	// different ones use every destination.
	got := counts(t, ctx, AlgCallID, 300)
	if len(got) != 3 {
		t.Errorf("Call-ID hash used %v", got)
	}
	for i := 0; i < 20; i++ {
		newMsg(t, ctx, fmt.Sprintf("call-%d@example.org", i))
		SelectDst(ctx, 1, AlgCallID)
		first := ctx.DstURI
		for k := 0; k < 5; k++ {
			newMsg(t, ctx, fmt.Sprintf("call-%d@example.org", i))
			SelectDst(ctx, 1, AlgCallID)
			if ctx.DstURI != first {
				t.Fatalf("Call-ID hash: %s then %s", first, ctx.DstURI)
			}
		}
	}
	// From, To and R-URI hash the same URIs the same whatever the Call-ID.
	for _, alg := range []int{AlgFromURI, AlgToURI, AlgRURI} {
		seen := map[string]bool{}
		for i := 0; i < 30; i++ {
			newMsg(t, ctx, fmt.Sprintf("x%d", i))
			if SelectDst(ctx, 1, alg) != 1 {
				t.Fatalf("alg %d failed", alg)
			}
			seen[ctx.DstURI] = true
		}
		if len(seen) != 1 {
			t.Errorf("alg %d not stable per URI: %v", alg, seen)
		}
	}
	if h := Hash([]byte("a84b4c76e66710@pc33.example.org")); h != Hash([]byte("a84b4c76e66710@pc33.example.org")) {
		t.Fatal("Hash not deterministic")
	}
}

func TestAlg7_HashPVar(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"hash_pvar": core.Str("$fU@$ci")})
	newMsg(t, ctx, "c1")
	SelectDst(ctx, 1, AlgHashPV)
	a := ctx.DstURI
	st := state(ctx)
	if want := "sip:127.0.0.1:" + []string{"5081", "5082", "5083"}[Hash([]byte("alice@c1"))%3]; a != want {
		t.Errorf("alg 7: %s, want %s (hash of %q)", a, want, st.buf)
	}
	ctx2 := setup(t, threeList, nil)
	if SelectDst(ctx2, 1, AlgHashPV) != -1 {
		t.Error("alg 7 without hash_pvar selected")
	}
}

func TestAlg6And8_RandomAndPriority(t *testing.T) {
	ctx := setup(t, "1 sip:127.0.0.1:5081 0 1\n1 sip:127.0.0.1:5082 0 9\n1 sip:127.0.0.1:5083 0 5\n", nil)
	got := counts(t, ctx, AlgRandom, 600)
	for u, c := range got {
		if c < 120 || c > 280 {
			t.Errorf("random: %s %d of 600 (%v)", u, c, got)
		}
	}
	got = counts(t, ctx, AlgPriority, 10)
	if got["sip:127.0.0.1:5082"] != 10 {
		t.Errorf("priority: %v", got)
	}
}

// Algorithm 10 picks the destination with the fewest calls below its
// maxload; ds_load_unset and a BYE through ds_load_update free a call; a
// retransmitted INVITE keeps its destination and is counted once.
func TestAlg10_CallLoad(t *testing.T) {
	ctx := setup(t, "1 sip:127.0.0.1:5081 0 0 duid=a;maxload=2\n1 sip:127.0.0.1:5082 0 0 duid=b;maxload=1\n", nil)
	m := Of(ctx.RT)
	a, b := m.List().Find(1, "sip:127.0.0.1:5081"), m.List().Find(1, "sip:127.0.0.1:5082")
	got := []string{}
	for i := 1; i <= 4; i++ {
		newMsg(t, ctx, fmt.Sprintf("load-%d", i))
		if SelectDst(ctx, 1, AlgCallLoad) != 1 {
			got = append(got, "-1")
			continue
		}
		got = append(got, ctx.DstURI)
	}
	want := []string{"sip:127.0.0.1:5081", "sip:127.0.0.1:5082", "sip:127.0.0.1:5081", "-1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("selections %v, want %v", got, want)
	}
	newMsg(t, ctx, "load-1") // a retransmission
	if SelectDst(ctx, 1, AlgCallLoad) != 1 || ctx.DstURI != "sip:127.0.0.1:5081" || m.Load(a) != 2 {
		t.Fatalf("retransmission: %s, load %d", ctx.DstURI, m.Load(a))
	}
	if LoadUnset(ctx) != 1 || LoadUnset(ctx) != -1 || m.Load(a) != 1 {
		t.Fatalf("ds_load_unset: load %d", m.Load(a))
	}
	bye := ksrtest.Request("BYE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKbye",
		"From: <sip:a@b>;tag=1", "To: <sip:c@d>;tag=2", "Call-ID: load-2", "CSeq: 2 BYE", "Content-Length: 0")
	msg := new(sip.Msg)
	if err := msg.Parse(bye); err != nil {
		t.Fatal(err)
	}
	ctx.Reset(msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if LoadUpdate(ctx) != 1 || m.Load(b) != 0 {
		t.Fatalf("ds_load_update on BYE: load %d", m.Load(b))
	}
}

func TestAlg12_ParallelBranches(t *testing.T) {
	ctx := setup(t, threeList, nil)
	Of(ctx.RT).List().Find(1, "sip:127.0.0.1:5082").flags.Store(FlagInactive)
	if SelectDst(ctx, 1, AlgParallel) != 1 {
		t.Fatal("alg 12 failed")
	}
	if ctx.DstURI != "sip:127.0.0.1:5081" || len(ctx.Branches) != 1 || ctx.Branches[0].DstURI != "sip:127.0.0.1:5083" ||
		ctx.Branches[0].URI != "sip:bob@example.com" {
		t.Errorf("alg 12: du=%s branches=%+v", ctx.DstURI, ctx.Branches)
	}
}

func TestSelectDomain_RewritesHostPort(t *testing.T) {
	ctx := setup(t, "1 sip:gw.example.net:5090 16\n", nil)
	if SelectDomain(ctx, 1, AlgRoundRob) != 1 {
		t.Fatal("ds_select_domain failed")
	}
	if got := string(ctx.Msg.RequestURI()); got != "sip:bob@gw.example.net:5090" {
		t.Errorf("R-URI = %s", got)
	}
	if SelectDst(ctx, 7, 4) != -1 || ListExists(ctx, 1) != 1 || ListExists(ctx, 7) != -1 {
		t.Error("unknown set")
	}
}

func TestFailover_WalkLimitAndDefault(t *testing.T) {
	ctx := setup(t, threeList+"1 sip:127.0.0.1:5099\n", map[string]core.Value{"flags": core.Int(2), "use_default": core.Int(1)})
	Of(ctx.RT).List().Find(1, "sip:127.0.0.1:5082").flags.Store(FlagInactive)
	newMsg(t, ctx, "")
	if SelectDst(ctx, 1, AlgPriority) != 1 || ctx.DstURI != "sip:127.0.0.1:5081" {
		t.Fatalf("first = %s", ctx.DstURI)
	}
	var walk []string
	for NextDst(ctx) == 1 {
		walk = append(walk, ctx.DstURI)
	}
	if got := strings.Join(walk, " "); got != "sip:127.0.0.1:5083 sip:127.0.0.1:5099" {
		t.Errorf("walk = %s (inactive skipped, default last)", got)
	}
	// limit 2: the selected one and the default.
	newMsg(t, ctx, "")
	SelectDstLimit(ctx, 1, AlgPriority, 2)
	walk = walk[:0]
	for NextDst(ctx) == 1 {
		walk = append(walk, ctx.DstURI)
	}
	if got := strings.Join(walk, " "); got != "sip:127.0.0.1:5099" {
		t.Errorf("limit 2 walk = %s", got)
	}
	// ds_select puts nothing in $du; ds_next_dst takes the first.
	newMsg(t, ctx, "")
	if Select(ctx, 1, AlgPriority) != 1 || ctx.DstURI != "" || NextDst(ctx) != 1 || ctx.DstURI != "sip:127.0.0.1:5081" {
		t.Errorf("ds_select then ds_next_dst: %q", ctx.DstURI)
	}
	if SetDst(ctx) != 1 || MarkDst(ctx) != 1 || Of(ctx.RT).List().Find(1, "sip:127.0.0.1:5081").Flags() != FlagInactive {
		t.Error("ds_mark_dst on the current destination")
	}
	// ds_select_routes over two sets.
	newMsg(t, ctx, "")
	if SelectRoutes(ctx, "1=8;1=4", "x") != 1 || state(ctx).n < 2 {
		t.Errorf("ds_select_routes: n=%d", state(ctx).n)
	}
	if SelectRoutes(ctx, "1=zz", "d") != -1 {
		t.Error("bad rule accepted")
	}
}

func TestFailover_NextDstInFailureRoute(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"flags": core.Int(2)})
	newMsg(t, ctx, "fr-1")
	SelectDst(ctx, 1, AlgRoundRob)
	first := ctx.DstURI
	// tm runs the failure route on a context of its own whose message is
	// the kept request.
	f := ksrtest.Ctx(t, ctx.Msg.AppendTo(nil), ksrtest.Discard)
	f.RT = ctx.RT
	f.Route = core.FailureRoute
	if MarkDstState(f, "ip") != 1 {
		t.Fatal("ds_mark_dst in the failure route")
	}
	if d := Of(ctx.RT).List().Find(1, first); StateLetters(d.Flags()) != "IP" {
		t.Errorf("%s is %s, want IP", first, StateLetters(d.Flags()))
	}
	if NextDst(f) != 1 || f.DstURI == first || f.DstURI == "" {
		t.Fatalf("ds_next_dst in the failure route: %q (first %q)", f.DstURI, first)
	}
	second := f.DstURI
	// A second failure route round continues the walk.
	m2 := new(sip.Msg)
	_ = m2.Parse(ctx.Msg.AppendTo(nil))
	f.Reset(m2, ksrtest.Src, ksrtest.Local, core.UDP)
	f.Route = core.FailureRoute
	if NextDst(f) != 1 || f.DstURI == first || f.DstURI == second {
		t.Fatalf("second round: %q", f.DstURI)
	}
	f.Reset(m2, ksrtest.Src, ksrtest.Local, core.UDP)
	f.Route = core.FailureRoute
	if NextDst(f) != -1 {
		t.Error("the walk did not end")
	}
}

func TestIsFromList_Modes(t *testing.T) {
	ctx := setup(t, "1 sip:192.0.2.10:5062\n2 sip:192.0.2.10:5070;transport=tcp\n3 sip:192.0.2.99\n",
		map[string]core.Value{"setid_pvname": core.Str("$var(setid)"), "attrs_pvname": core.Str("$var(attrs)")})
	if IsFromLists(ctx) != 1 || IsFromList(ctx, 1) != 1 || IsFromList(ctx, 2) != -1 || IsFromList(ctx, 3) != -1 {
		t.Error("source 192.0.2.10:5062 udp")
	}
	if v := core.LookupPV("var"); v != nil {
		b, _ := v(ctx, "setid", nil)
		if string(b) != "1" {
			t.Errorf("setid_pvname = %q", b)
		}
	}
	if IsFromListMode(ctx, 2, MatchNoPort) != -1 || IsFromListMode(ctx, 2, MatchNoPort|MatchNoProto) != 1 {
		t.Error("mode bits 1 and 2")
	}
	if IsFromListURI(ctx, -1, 0, "sip:192.0.2.99") != 1 || IsFromListURI(ctx, -1, 0, "sip:192.0.2.99:5070") != -1 {
		t.Error("uri")
	}
	Of(ctx.RT).List().Find(1, "sip:192.0.2.10:5062").flags.Store(FlagInactive)
	if IsFromListMode(ctx, 1, MatchActive|MatchNoProto) != -1 || IsFromListMode(ctx, 1, MatchNoProto) != 1 {
		t.Error("mode bit 3 (active only)")
	}
	if IsActive(ctx, 1) != -1 || IsActive(ctx, 3) != 1 || IsActiveURI(ctx, 3, "sip:192.0.2.99") != 1 {
		t.Error("ds_is_active")
	}
}

func TestMarkDst_TryingThresholdAndRPC(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"ds_probing_threshold": core.Int(3)})
	m := Of(ctx.RT)
	d := m.List().Find(1, "sip:127.0.0.1:5081")
	for i, want := range []string{"TX", "TX", "IX"} {
		if MarkAddr(ctx, "t", 1, d.URI) != 1 || StateLetters(d.Flags()) != want {
			t.Fatalf("trying %d: %s, want %s", i+1, StateLetters(d.Flags()), want)
		}
	}
	if n, err := m.RPCSetState("ap", 1, "all"); n != 3 || err != nil || StateLetters(d.Flags()) != "AP" {
		t.Errorf("set_state all: %d %v %s", n, err, StateLetters(d.Flags()))
	}
	if _, err := m.RPCSetState("q", 1, "all"); err == nil {
		t.Error("bad state accepted")
	}
	if _, err := m.RPCSetState("i", 1, "sip:nowhere"); err == nil {
		t.Error("unknown address accepted")
	}
	if l := m.RPCList(); len(l) != 1 || len(l[0].Dests) != 3 || l[0].Dests[0].Flags != "AP" {
		t.Errorf("list: %+v", l)
	}
	zero := 0
	if old, err := m.RPCPingActive(&zero); old != 1 || err != nil {
		t.Errorf("ping_active: %d %v", old, err)
	}
	if cur, _ := m.RPCPingActive(nil); cur != 0 {
		t.Errorf("ping_active now %d", cur)
	}
	if err := m.RPCReload(); err != ErrReloadTooSoon {
		t.Errorf("reload within reload_delta: %v", err)
	}
	m.reloadDelta = 0
	if err := m.RPCReload(); err != nil || StateLetters(m.List().Find(1, d.URI).Flags()) != "AX" {
		t.Errorf("reload: %v", err)
	}
	if Reload(ctx) != 1 {
		t.Error("ds_reload")
	}
}

// sentProbes collects what the prober sends.
type sentProbes struct {
	mu   sync.Mutex
	msgs [][]byte
	to   []netip.AddrPort
}

func (s *sentProbes) take() ([][]byte, []netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, to := s.msgs, s.to
	s.msgs, s.to = nil, nil
	return m, to
}

// replyTo answers a sent keepalive with code, from its destination.
func replyTo(t *testing.T, ctx *core.Ctx, p *prober, req []byte, from netip.AddrPort, code int) bool {
	t.Helper()
	var m sip.Msg
	if err := m.Parse(req); err != nil {
		t.Fatal(err)
	}
	v, _ := m.TopVia()
	raw := ksrtest.Request(fmt.Sprintf("SIP/2.0 %d X", code), "Via: "+string(v.Raw), "From: <sip:a@b>;tag=1",
		"To: <sip:c@d>;tag=2", "Call-ID: "+string(m.CallID()), "CSeq: 1 OPTIONS", "Content-Length: 0")
	r := ksrtest.Ctx(t, raw, ksrtest.Discard)
	r.RT, r.Src = ctx.RT, from
	return p.hook(r)
}

func TestProbe_InactiveAfterThresholdAndActiveAgain(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"ds_ping_interval": core.Int(1), "ds_probing_mode": core.Int(1),
		"ds_probing_threshold": core.Int(2), "ds_inactive_threshold": core.Int(2), "ds_default_socket": core.Str("udp:127.0.0.1:5060")})
	m := Of(ctx.RT)
	p := m.prober
	p.Stop() // the test drives Tick itself
	var sent sentProbes
	ctx.RT.Send = func(b []byte, _ core.Proto, to netip.AddrPort) error {
		sent.mu.Lock()
		sent.msgs, sent.to = append(sent.msgs, append([]byte(nil), b...)), append(sent.to, to)
		sent.mu.Unlock()
		return nil
	}
	d := m.List().Find(1, "sip:127.0.0.1:5082")
	now := int64(1e12)
	p.next = now
	round := func(answer func(to netip.AddrPort) int) {
		p.Tick(now)
		msgs, tos := sent.take()
		if len(msgs) != 3 {
			t.Fatalf("round sent %d keepalives, want 3", len(msgs))
		}
		if !bytes.HasPrefix(msgs[0], []byte("OPTIONS sip:127.0.0.1:508")) || !bytes.Contains(msgs[0], []byte("From: <sip:dispatcher@localhost>;tag=")) ||
			!bytes.Contains(msgs[0], []byte("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKds")) {
			t.Fatalf("keepalive:\n%s", msgs[0])
		}
		for i, b := range msgs {
			if c := answer(tos[i]); c > 0 {
				if !replyTo(t, ctx, p, b, tos[i], c) {
					t.Fatal("the hook did not claim a keepalive reply")
				}
			}
		}
		now += int64(1e9)
	}
	up := func(netip.AddrPort) int { return 200 }
	downOne := func(to netip.AddrPort) int {
		if to.Port() == 5082 {
			return 0 // no reply: a timeout at the next tick
		}
		return 200
	}
	round(up)
	round(downOne)
	round(downOne) // the first timeout counted: trying
	if got := StateLetters(d.Flags()); got != "TP" {
		t.Errorf("after one timeout: %s, want TP", got)
	}
	round(up) // second timeout: inactive; this round's 200 is one success
	if got := StateLetters(d.Flags()); got != "IP" {
		t.Errorf("after two timeouts and a 200: %s, want IP", got)
	}
	round(up)
	if got := StateLetters(d.Flags()); got != "AP" {
		t.Errorf("after two 200s: %s, want AP", got)
	}
	// A spoofed reply (wrong source) and a stranger's branch.
	p.Tick(now)
	msgs, _ := sent.take()
	d1 := m.List().Find(1, "sip:127.0.0.1:5081")
	before := d1.Flags()
	if !replyTo(t, ctx, p, msgs[0], netip.MustParseAddrPort("192.0.2.66:5060"), 503) || d1.Flags() != before || d1.fails.Load() != 0 {
		t.Error("a reply from elsewhere changed the state")
	}
	other := ksrtest.Ctx(t, ksrtest.Request("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKds0000", "Call-ID: x", "CSeq: 1 OPTIONS", "From: <sip:a@b>;tag=1", "To: <sip:c@d>"), ksrtest.Discard)
	if p.hook(other) {
		t.Error("the hook claimed a reply that is not a keepalive's")
	}
}

func TestEvents_QueuedOnTransitions(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"event_callback": core.Str("ksr_dispatcher_event")})
	m := Of(ctx.RT)
	m.prober.Stop()
	d := m.List().Find(1, "sip:127.0.0.1:5081")
	m.SetState(d, FlagInactive|FlagProbing, 0, "")
	m.SetState(d, FlagInactive|FlagProbing, 0, "") // no transition
	m.result(d, 200, "OK")
	if len(m.prober.events) != 2 {
		t.Fatalf("%d events, want 2", len(m.prober.events))
	}
	if ev := <-m.prober.events; ev.up || ev.d != d {
		t.Errorf("first event %+v, want down", ev)
	}
	if ev := <-m.prober.events; !ev.up || ev.code != 200 {
		t.Errorf("second event %+v, want up", ev)
	}
	for i := 0; i < maxEvents+10; i++ {
		m.event(d, i%2 == 0, 0, "")
	}
	if m.prober.DroppedEvents.Load() != 10 {
		t.Errorf("dropped %d, want 10", m.prober.DroppedEvents.Load())
	}
}

func TestSelectDst_NoAllocs(t *testing.T) {
	for _, flags := range []int64{0, 2} {
		ctx := setup(t, threeList, map[string]core.Value{"flags": core.Int(flags)})
		n := testing.AllocsPerRun(1000, func() {
			ctx.Seq++
			SelectDst(ctx, 1, AlgRoundRob)
			SelectDst(ctx, 1, AlgCallID)
		})
		if n != 0 {
			t.Errorf("flags %d: ds_select_dst allocates %.1f per call", flags, n)
		}
	}
}

func BenchmarkSelectDst(b *testing.B) {
	for _, c := range []struct {
		name  string
		alg   int
		flags int64
	}{{"rr", AlgRoundRob, 0}, {"hash", AlgCallID, 0}, {"weight", AlgWeight, 0}, {"rr-failover", AlgRoundRob, 2}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := setup(b, "1 sip:127.0.0.1:5081 0 0 weight=50\n1 sip:127.0.0.1:5082 0 0 weight=30\n1 sip:127.0.0.1:5083 0 0 weight=20\n",
				map[string]core.Value{"flags": core.Int(c.flags)})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Seq++
				if SelectDst(ctx, 1, c.alg) != 1 {
					b.Fatal("no destination")
				}
			}
		})
	}
}

// A failover list must outlive the transactions that start and end while
// its own waits for a timeout: 2xx replies free their slots.
func TestFailover_ListSurvivesOtherCalls(t *testing.T) {
	ctx := setup(t, threeList, map[string]core.Value{"flags": core.Int(2)})
	m := Of(ctx.RT)
	newMsg(t, ctx, "waiting")
	SelectDst(ctx, 1, AlgRoundRob)
	key, _ := txKey(ctx.Msg)
	for i := 0; i < 20000; i++ {
		newMsg(t, ctx, fmt.Sprintf("other-%d", i))
		SelectDst(ctx, 1, AlgRoundRob)
		k, _ := txKey(ctx.Msg)
		// The 2xx: kemi's Via on top, the request's below it.
		raw := ksrtest.Request("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkemi",
			"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport", "From: <sip:a@b>;tag=1",
			"To: <sip:c@d>;tag=2", fmt.Sprintf("Call-ID: other-%d", i), "CSeq: 314159 INVITE", "Content-Length: 0")
		r := ksrtest.Ctx(t, raw, ksrtest.Discard)
		if m.replyHook(r) {
			t.Fatal("the reply hook claimed a reply")
		}
		var d [MaxFailover]*Dest
		if n, _ := m.tx.load(k, &d); n != 0 {
			t.Fatalf("call %d: the 2xx did not free its list", i)
		}
	}
	var d [MaxFailover]*Dest
	if n, _ := m.tx.load(key, &d); n != 3 {
		t.Fatalf("the waiting call's list: %d destinations, want 3", n)
	}
}
