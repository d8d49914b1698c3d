package registrar

import (
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/usrloc"
	"kemi/sip"
)

// newRT is a runtime with registrar and usrloc loaded and the given
// modparams ("module.name" -> value).
func newRT(t testing.TB, params map[string]core.Value) *core.Runtime {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("registrar"), core.Known("usrloc"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{}}
	for k, v := range params {
		mod, name, _ := strings.Cut(k, ".")
		if rt.Params[mod] == nil {
			rt.Params[mod] = map[string][]core.Value{}
		}
		rt.Params[mod][name] = []core.Value{v}
	}
	return rt
}

// msgCtx parses raw into a fresh context on rt.
func msgCtx(t testing.TB, rt *core.Runtime, raw string, out core.Sender) *core.Ctx {
	t.Helper()
	m := new(sip.Msg)
	if err := m.Parse([]byte(raw)); err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	ctx := &core.Ctx{Out: out, RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	return ctx
}

var cseqSeq atomic.Int64

// register builds a REGISTER for alice with the given extra lines
// (Contact, Expires...).
func register(extra ...string) string {
	cseqN := int(cseqSeq.Add(1))
	return string(ksrtest.Request(append([]string{
		"REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKreg" + itoa(cseqN) + ";rport",
		"From: <sip:alice@example.com>;tag=reg1",
		"To: <sip:alice@example.com>",
		"Call-ID: reg-alice@192.0.2.10",
		"CSeq: " + itoa(cseqN) + " REGISTER",
		"Max-Forwards: 70",
		"Content-Length: 0",
	}, extra...)...))
}

func itoa(n int) string { return strconv.Itoa(n) }

func invite(ruri string) string {
	return strings.Replace(string(ksrtest.Invite()), "INVITE sip:bob@example.com", "INVITE "+ruri, 1)
}

// doSave runs save and returns its code and the reply sent.
func doSave(t *testing.T, rt *core.Runtime, raw string, flags int) (int, string) {
	t.Helper()
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, raw, rec)
	rc := Save(ctx, "location", flags)
	reply := ""
	if len(rec.Sent) > 1 {
		t.Fatalf("save sent %d replies", len(rec.Sent))
	}
	if len(rec.Sent) == 1 {
		reply = string(rec.Sent[0].B)
	}
	return rc, reply
}

func status(reply string) string {
	line, _, _ := strings.Cut(reply, "\r\n")
	return line
}

func contactLines(reply string) []string {
	var out []string
	for _, l := range strings.Split(reply, "\r\n") {
		if strings.HasPrefix(l, "Contact: ") {
			out = append(out, l)
		}
	}
	return out
}

func TestSaveOneAndLookup(t *testing.T) {
	rt := newRT(t, nil)
	rc, reply := doSave(t, rt, register("Contact: <sip:alice@192.0.2.10:5062;transport=udp>"), 0)
	if rc != 1 || status(reply) != "SIP/2.0 200 OK" {
		t.Fatalf("save = %d, reply %q", rc, status(reply))
	}
	if got := contactLines(reply); len(got) != 1 || got[0] != "Contact: <sip:alice@192.0.2.10:5062;transport=udp>;expires=3600" {
		t.Fatalf("contacts in reply: %q", got)
	}
	if !strings.Contains(reply, "To: <sip:alice@example.com>;tag=") {
		t.Errorf("reply has no To-tag:\n%s", reply)
	}
	// A refresh updates, and the reply still lists one binding.
	if rc, reply := doSave(t, rt, register("Contact: <sip:alice@192.0.2.10:5062;transport=udp>", "Expires: 600"), 0); rc != 2 || len(contactLines(reply)) != 1 || !strings.Contains(reply, ";expires=600\r\n") {
		t.Fatalf("refresh = %d:\n%s", rc, reply)
	}
	ctx := msgCtx(t, rt, invite("sip:alice@example.com"), ksrtest.NewRecorder())
	if rc := Lookup(ctx, "location"); rc != 1 {
		t.Fatalf("lookup = %d, want 1", rc)
	}
	if got := string(ctx.Msg.RequestURI()); got != "sip:alice@192.0.2.10:5062;transport=udp" {
		t.Errorf("R-URI = %q", got)
	}
	if len(ctx.Branches) != 0 || ctx.DstURI != "" {
		t.Errorf("branches %v dst %q, want none", ctx.Branches, ctx.DstURI)
	}
	if !strings.HasPrefix(ksrtest.Serialize(ctx), "INVITE sip:alice@192.0.2.10:5062;transport=udp SIP/2.0\r\n") {
		t.Errorf("serialized:\n%s", ksrtest.Serialize(ctx))
	}
	if Registered(ctx, "location") != 1 || RegisteredURI(ctx, "location", "sip:carol@example.com") != -1 {
		t.Error("registered gives the wrong answer")
	}
}

func TestSaveThreeContactsQ(t *testing.T) {
	rt := newRT(t, nil)
	rc, reply := doSave(t, rt, register(
		"Contact: <sip:alice@192.0.2.10:5062>;q=0.5, <sip:alice@192.0.2.11:5060>;q=1.0",
		"Contact: \"Desk\" <sip:alice@192.0.2.12:5060>;q=0.7;expires=120",
	), 0)
	if rc != 1 {
		t.Fatalf("save = %d:\n%s", rc, reply)
	}
	want := []string{
		"Contact: <sip:alice@192.0.2.10:5062>;expires=3600;q=0.5",
		"Contact: <sip:alice@192.0.2.11:5060>;expires=3600;q=1.0",
		"Contact: <sip:alice@192.0.2.12:5060>;expires=120;q=0.7",
	}
	if got := contactLines(reply); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("contacts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ctx := msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 {
		t.Fatal("lookup failed")
	}
	if got := string(ctx.Msg.RequestURI()); got != "sip:alice@192.0.2.11:5060" {
		t.Errorf("R-URI = %q, want the q=1.0 contact", got)
	}
	if len(ctx.Branches) != 2 || ctx.Branches[0].URI != "sip:alice@192.0.2.12:5060" || ctx.Branches[0].Q != 700 ||
		ctx.Branches[1].URI != "sip:alice@192.0.2.10:5062" || ctx.Branches[1].Q != 500 {
		t.Errorf("branches = %+v", ctx.Branches)
	}
	// append_branches 0 keeps only the best.
	rt2 := newRT(t, map[string]core.Value{"registrar.append_branches": core.Int(0)})
	doSave(t, rt2, register("Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>;q=0.9"), 0)
	ctx = msgCtx(t, rt2, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 || len(ctx.Branches) != 0 || string(ctx.Msg.RequestURI()) != "sip:b@192.0.2.2" {
		t.Errorf("append_branches=0: R-URI %s branches %v", ctx.Msg.RequestURI(), ctx.Branches)
	}
}

func TestExpiresClamping(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.max_expires": core.Int(3600), "registrar.min_expires": core.Int(60)})
	for _, c := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Contact: <sip:a@192.0.2.1>", "Expires: 99999999999999"}, ";expires=3600"},
		{[]string{"Contact: <sip:a@192.0.2.1>;expires=10"}, ";expires=60"},
		{[]string{"Contact: <sip:a@192.0.2.1>;expires=1800", "Expires: 10"}, ";expires=1800"},
		{[]string{"Contact: <sip:a@192.0.2.1>", "Expires: soon"}, ";expires=3600"}, // default_expires
		{[]string{"Contact: <sip:a@192.0.2.1>;expires=junk", "Expires: 120"}, ";expires=120"},
	} {
		rc, reply := doSave(t, rt, register(c.lines...), 0)
		got := contactLines(reply)
		if rc < 0 || len(got) != 1 || !strings.HasSuffix(got[0], c.want) {
			t.Errorf("%q: save = %d, contacts %q, want suffix %q", c.lines, rc, got, c.want)
		}
	}
}

func TestStarRemovesAll(t *testing.T) {
	rt := newRT(t, nil)
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>"), 0)
	if rc, reply := doSave(t, rt, register("Contact: *"), 0); rc != -1 || status(reply) != "SIP/2.0 400 Invalid Contact" {
		t.Fatalf("* without Expires: 0: %d %q", rc, status(reply))
	}
	if rc, reply := doSave(t, rt, register("Contact: *", "Expires: 0"), 0); rc != 3 || status(reply) != "SIP/2.0 200 OK" || len(contactLines(reply)) != 0 {
		t.Fatalf("* with Expires: 0: %d\n%s", rc, reply)
	}
	ctx := msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if rc := Lookup(ctx, "location"); rc != -1 {
		t.Fatalf("lookup after * = %d, want -1", rc)
	}
	// expires=0 on one contact removes only that one.
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>"), 0)
	if rc, reply := doSave(t, rt, register("Contact: <sip:a@192.0.2.1>;expires=0"), 0); rc != 3 || len(contactLines(reply)) != 1 {
		t.Fatalf("expires=0: %d\n%s", rc, reply)
	}
	// No Contact: the bindings are listed.
	if rc, reply := doSave(t, rt, register(), 0); rc != 4 || len(contactLines(reply)) != 1 {
		t.Fatalf("fetch: %d\n%s", rc, reply)
	}
}

func TestMaxContacts(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.max_contacts": core.Int(2)})
	if rc, reply := doSave(t, rt, register("Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>, <sip:c@192.0.2.3>"), 0); rc != -2 || status(reply) != "SIP/2.0 503 Too Many Registered Contacts" {
		t.Fatalf("3 contacts: %d %q", rc, status(reply))
	}
	if rc, _ := doSave(t, rt, register("Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>"), 0); rc != 1 {
		t.Fatalf("2 contacts: %d", rc)
	}
	if rc, _ := doSave(t, rt, register("Contact: <sip:c@192.0.2.3>"), 0); rc != -2 {
		t.Fatalf("a third binding: %d, want -2", rc)
	}
	// Replacing (flag 4) or removing one to add another fits.
	if rc, reply := doSave(t, rt, register("Contact: <sip:c@192.0.2.3>"), FlagReplace); rc != 1 || len(contactLines(reply)) != 1 {
		t.Fatalf("replace: %d\n%s", rc, reply)
	}
	if rc, reply := doSave(t, rt, register("Contact: <sip:c@192.0.2.3>;expires=0, <sip:d@192.0.2.4>, <sip:e@192.0.2.5>"), 0); rc != 1 || len(contactLines(reply)) != 2 {
		t.Fatalf("swap: %d\n%s", rc, reply)
	}
}

func TestMalformedContact(t *testing.T) {
	rt := newRT(t, nil)
	for _, c := range []string{
		"Contact: <sip:a@192.0.2.1",
		"Contact: <sip:a@192.0.2.1>;q=2",
		"Contact: \"unterminated <sip:a@192.0.2.1>",
		"Contact: <sip:a@[::1>",
	} {
		rc, reply := doSave(t, rt, register(c), 0)
		if rc != -1 || !strings.HasPrefix(status(reply), "SIP/2.0 400 ") {
			t.Errorf("%q: save = %d, reply %q, want -1 and 400", c, rc, status(reply))
		}
	}
	if rc, reply := doSave(t, rt, register("Contact: <sip:a@192.0.2.1>"), FlagNoReply); rc != 1 || reply != "" {
		t.Errorf("no-reply flag: %d %q", rc, reply)
	}
	if rc, _ := doSave(t, rt, invite("sip:alice@example.com"), 0); rc != -1 {
		t.Errorf("save on INVITE = %d", rc)
	}
}

func TestOutOfOrderCSeq(t *testing.T) {
	rt := newRT(t, nil)
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>"), 0)
	old := strings.Replace(register("Contact: <sip:a@192.0.2.1>;expires=0"), "CSeq: "+itoa(int(cseqSeq.Load()))+" ", "CSeq: 1 ", 1)
	if rc, reply := doSave(t, rt, old, 0); rc != -1 || status(reply) != "SIP/2.0 400 Invalid CSeq Number" {
		t.Fatalf("older CSeq: %d %q", rc, status(reply))
	}
	if Registered(msgCtx(t, rt, invite("sip:alice@example.com"), nil), "location") != 1 {
		t.Fatal("the out-of-order REGISTER removed the binding")
	}
}

func TestLookupCodes(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.method_filtering": core.Int(1)})
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>", "Allow: MESSAGE, OPTIONS"), 0)
	if rc := Lookup(msgCtx(t, rt, invite("sip:nobody@example.com"), nil), "location"); rc != -1 {
		t.Errorf("unknown user: %d, want -1", rc)
	}
	if rc := Lookup(msgCtx(t, rt, invite("sip:alice@example.com"), nil), "location"); rc != -2 {
		t.Errorf("INVITE to a MESSAGE-only contact: %d, want -2", rc)
	}
	if rc := Lookup(msgCtx(t, rt, invite("sip:example.com"), nil), "location"); rc != -3 {
		t.Errorf("R-URI without user: %d, want -3", rc)
	}
	msg := strings.Replace(strings.Replace(invite("sip:alice@example.com"), "INVITE sip:", "MESSAGE sip:", 1), "314159 INVITE", "314159 MESSAGE", 1)
	if rc := Lookup(msgCtx(t, rt, msg, nil), "location"); rc != 1 {
		t.Errorf("MESSAGE: %d, want 1", rc)
	}
	if rc := LookupURI(msgCtx(t, rt, msg, nil), "location", "sip:alice@other.net"); rc != 1 {
		t.Errorf("lookup_uri (use_domain 0 ignores the host): %d", rc)
	}
}

func TestUseDomain(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"usrloc.use_domain": core.Int(1)})
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>"), 0)
	if rc := Lookup(msgCtx(t, rt, invite("sip:alice@EXAMPLE.com"), nil), "location"); rc != 1 {
		t.Errorf("same domain, other case: %d", rc)
	}
	if rc := Lookup(msgCtx(t, rt, invite("sip:alice@example.net"), nil), "location"); rc != -1 {
		t.Errorf("other domain: %d, want -1", rc)
	}
}

func TestReceivedAndPath(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.use_path": core.Int(1), "registrar.path_mode": core.Int(1)})
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register("Contact: <sip:a@10.0.0.5:5060>", "Path: <sip:edge.example.com;lr>"), rec)
	usrloc.SetReceived(ctx, "sip:198.51.100.7:40000")
	if Save(ctx, "location", 0) != 1 {
		t.Fatal("save failed")
	}
	if strings.Contains(string(rec.Sent[0].B), "Path:") {
		t.Error("Path echoed to a client without Supported: path")
	}
	rec = ksrtest.NewRecorder()
	ctx = msgCtx(t, rt, register("Contact: <sip:a@10.0.0.5:5060>", "Path: <sip:edge.example.com;lr>", "Supported: path"), rec)
	usrloc.SetReceived(ctx, "sip:198.51.100.7:40000")
	if Save(ctx, "location", 0) != 2 || !strings.Contains(string(rec.Sent[0].B), "\r\nPath: <sip:edge.example.com;lr>\r\n") {
		t.Errorf("Path not echoed with Supported: path:\n%s", rec.Sent[0].B)
	}
	ctx = msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 {
		t.Fatal("lookup failed")
	}
	if ctx.DstURI != "sip:198.51.100.7:40000" {
		t.Errorf("DstURI = %q, want the received address", ctx.DstURI)
	}
	if ctx.Path != "<sip:edge.example.com;lr>" {
		t.Errorf("ctx.Path = %q, want the binding's Path (tm puts it in Route)", ctx.Path)
	}
	// The received address is per message: the next REGISTER has none.
	ctx = msgCtx(t, rt, register("Contact: <sip:b@10.0.0.6>"), ksrtest.NewRecorder())
	if usrloc.Received(ctx) != "" {
		t.Error("received leaked into the next message")
	}
}

func TestLookupBranches(t *testing.T) {
	rt := newRT(t, nil)
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>"), 0)
	ctx := msgCtx(t, rt, invite("sip:nobody@example.com"), nil)
	ctx.Branches = append(ctx.Branches, core.Branch{URI: "sip:alice@example.com", Q: -1}, core.Branch{URI: "sip:carol@example.com", Q: -1})
	if rc := LookupBranches(ctx, "location"); rc != 1 {
		t.Fatalf("lookup_branches = %d", rc)
	}
	if len(ctx.Branches) != 2 || ctx.Branches[0].URI != "sip:carol@example.com" || ctx.Branches[1].URI != "sip:a@192.0.2.1" {
		t.Errorf("branches = %+v", ctx.Branches)
	}
}

func TestUnregisterAndExpire(t *testing.T) {
	rt := newRT(t, nil)
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>;expires=100"), 0)
	ctx := msgCtx(t, rt, invite("sip:alice@example.com"), nil)
	if Unregister(ctx, "location", "sip:alice@example.com") != 1 || Registered(ctx, "location") != -1 ||
		Unregister(ctx, "location", "sip:alice@example.com") != 1 || Unregister(ctx, "location", "sip:example.com") != -1 {
		t.Error("unregister codes")
	}
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>;expires=100"), 0)
	u := usrloc.Get(rt)
	if n := u.Expire(time.Now().Unix() + 50); n != 0 {
		t.Errorf("expired %d too early", n)
	}
	if n := u.Expire(time.Now().Unix() + 101); n != 1 {
		t.Errorf("expired %d, want 1", n)
	}
	if Registered(ctx, "location") != -1 {
		t.Error("still registered after expiry")
	}
}

func TestRestartKeepsRegistrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	params := map[string]core.Value{"usrloc.db_mode": core.Int(2), "usrloc.db_path": core.Str(path)}
	rt := newRT(t, params)
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	doSave(t, rt, register("Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=0.9"), 0)
	for i := 0; i < 50; i++ { // many users, one per REGISTER
		raw := strings.ReplaceAll(register("Contact: <sip:u@192.0.2.9>"), "alice", "user"+itoa(i))
		if rc, _ := doSave(t, rt, raw, 0); rc != 1 {
			t.Fatal("save failed")
		}
	}
	rt.Stop() // a clean stop writes what is pending

	rt2 := newRT(t, params)
	if err := rt2.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt2.Stop()
	if recs, cs := usrloc.Get(rt2).Table("location").Len(); recs != 51 || cs != 52 {
		t.Fatalf("after restart: %d records, %d contacts; want 51, 52", recs, cs)
	}
	ctx := msgCtx(t, rt2, invite("sip:alice@example.com"), nil)
	if Lookup(ctx, "location") != 1 || string(ctx.Msg.RequestURI()) != "sip:b@192.0.2.2" || len(ctx.Branches) != 1 {
		t.Fatalf("after restart: R-URI %s branches %v", ctx.Msg.RequestURI(), ctx.Branches)
	}
	// A memory-only binding (flag 1) does not survive a restart.
	doSave(t, rt2, strings.ReplaceAll(register("Contact: <sip:m@192.0.2.7>"), "alice", "memonly"), FlagMemOnly)
	// A removal is persisted too.
	doSave(t, rt2, register("Contact: *", "Expires: 0"), 0)
	if err := usrloc.Get(rt2).Flush(); err != nil {
		t.Fatal(err)
	}
	rt3 := newRT(t, params)
	if err := rt3.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt3.Stop()
	if recs, _ := usrloc.Get(rt3).Table("location").Len(); recs != 50 {
		t.Fatalf("after removal and restart: %d records, want 50", recs)
	}
}

func TestAllocs(t *testing.T) {
	rt := newRT(t, nil)
	raw := []byte(register("Contact: <sip:alice@192.0.2.10:5062>;q=0.8", "User-Agent: phone/1.0", "Expires: 600"))
	var m sip.Msg
	ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
	refresh := func() {
		m.Parse(raw)
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if Save(ctx, "location", 0) < 0 {
			t.Fatal("save failed")
		}
	}
	refresh()
	if n := testing.AllocsPerRun(200, refresh); n > 0 {
		t.Errorf("refreshing REGISTER: %.1f allocs, want 0", n)
	}
	inv := []byte(invite("sip:alice@example.com"))
	look := func() {
		m.Parse(inv)
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if Lookup(ctx, "location") != 1 {
			t.Fatal("lookup failed")
		}
	}
	look()
	if n := testing.AllocsPerRun(200, look); n > 0 {
		t.Errorf("lookup: %.1f allocs, want 0", n)
	}
}

func TestNeedsUsrloc(t *testing.T) {
	reg, _ := core.NewRegistry(core.Known("registrar"))
	rt := &core.Runtime{Reg: reg}
	if err := rt.Start(); err == nil || !strings.Contains(err.Error(), "usrloc") {
		t.Fatalf("registrar without usrloc: %v", err)
	}
}

// TestConcurrentWorkers saves and looks up from several workers at once,
// with the flusher and the expiry sweep running: run with -race.
func TestConcurrentWorkers(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"usrloc.db_mode": core.Int(1), "usrloc.db_path": core.Str(filepath.Join(t.TempDir(), "kemi.db"))})
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func(w int) {
			var m sip.Msg
			ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
			ok := true
			for i := 0; i < 200; i++ {
				user := "w" + itoa(w) + "u" + itoa(i%20)
				m.Parse([]byte(strings.ReplaceAll(register("Contact: <sip:x@192.0.2.1>;expires=3600"), "alice", user)))
				ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
				ok = ok && Save(ctx, "location", 0) > 0
				m.Parse([]byte(invite("sip:w0u1@example.com")))
				ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
				Lookup(ctx, "location")
			}
			done <- ok
		}(w)
	}
	go usrloc.Get(rt).Expire(time.Now().Unix())
	for w := 0; w < 4; w++ {
		if !<-done {
			t.Error("a save failed")
		}
	}
	rt.Stop()
	if recs, _ := usrloc.Get(rt).Table("location").Len(); recs != 80 {
		t.Errorf("%d records, want 80", recs)
	}
}

func TestAppendToReplyHeaders(t *testing.T) {
	rt := newRT(t, nil)
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register("Contact: <sip:a@192.0.2.1>"), rec)
	if hdr.AppendToReply(ctx, "X-Reg: yes\r\n") != 1 {
		t.Fatal("append_to_reply failed")
	}
	Save(ctx, "location", 0)
	if got := string(rec.Sent[0].B); !strings.Contains(got, "\r\nX-Reg: yes\r\nContact: <sip:a@192.0.2.1>;expires=3600\r\n") {
		t.Errorf("reply lacks the append_to_reply header before the contacts:\n%s", got)
	}
}

// bindings returns how many contacts alice@example.com has in "location".
func bindings(rt *core.Runtime) int {
	_, n := usrloc.Get(rt).Table("location").Len()
	return n
}

// longContacts returns one Contact header with n URIs of about size
// bytes each, numbered from first.
func longContacts(first, n, size int) string {
	var b strings.Builder
	b.WriteString("Contact: ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		u := "sip:alice-" + itoa(first+i) + "@192.0.2.10:5062;x="
		b.WriteString("<" + u + strings.Repeat("p", size-len(u)) + ">")
	}
	return b.String()
}

// TestHardening_RegisterReplyTooLarge covers issue 10 item 2: a REGISTER
// whose 200 would not fit in one UDP datagram gets 500 with a reason
// naming the problem, and its bindings are not stored.
func TestHardening_RegisterReplyTooLarge(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.max_contacts": core.Int(0)})
	rc, reply := doSave(t, rt, register(longContacts(0, 230, 270)), 0)
	if rc != -2 || status(reply) != "SIP/2.0 500 Contacts Too Large For One Reply" {
		t.Fatalf("230 contacts of 270 bytes: save = %d, reply %q; want -2 and 500 Contacts Too Large For One Reply", rc, status(reply))
	}
	if n := bindings(rt); n != 0 {
		t.Fatalf("%d bindings stored for a REGISTER answered with an error", n)
	}
	// Filled 20 at a time: every 200 fits, and the REGISTER that would
	// overflow stores nothing.
	ok := 0
	for i := 0; i < 20; i++ {
		rc, reply := doSave(t, rt, register(longContacts(i*20, 20, 300)), 0)
		if len(reply) > MaxReply {
			t.Fatalf("batch %d: a reply of %d bytes, more than %d", i, len(reply), MaxReply)
		}
		if rc < 0 {
			if status(reply) != "SIP/2.0 500 Contacts Too Large For One Reply" {
				t.Fatalf("batch %d: %d %q", i, rc, status(reply))
			}
			break
		}
		ok++
		if got := len(contactLines(reply)); got != ok*20 {
			t.Fatalf("batch %d: %d contacts listed, want %d", i, got, ok*20)
		}
	}
	if ok == 0 || ok == 20 {
		t.Fatalf("%d batches of 20 accepted; want the limit to fall in between", ok)
	}
	if n := bindings(rt); n != ok*20 {
		t.Fatalf("%d bindings stored after %d accepted batches of 20", n, ok)
	}
	// A refresh of one stored binding still fits and changes nothing else.
	if rc, reply := doSave(t, rt, register(longContacts(0, 1, 300)), 0); rc != 2 || len(contactLines(reply)) != ok*20 {
		t.Fatalf("refresh: %d %q, %d contacts", rc, status(reply), len(contactLines(reply)))
	}
	// A query whose own headers push the list past a datagram gets the
	// error instead of a reply that cannot be sent.
	q := strings.Replace(register(), ";rport", ";rport;x="+strings.Repeat("v", 8000), 1)
	if rc, reply := doSave(t, rt, q, 0); rc != -2 || status(reply) != "SIP/2.0 500 Contacts Too Large For One Reply" || len(reply) > MaxReply {
		t.Fatalf("oversized query: %d %q (%d bytes)", rc, status(reply), len(reply))
	}
}

// TestHardening_ReplySizeEstimate checks that the size save checks before
// storing is the size of the 200 it then sends.
func TestHardening_ReplySizeEstimate(t *testing.T) {
	for _, c := range []struct {
		exp int64
		q   int
	}{{1, -1}, {3600, -1}, {4294967295, 1000}, {60, 500}, {60, 250}, {60, 125}, {60, 0}, {9, 1}} {
		b := appendContacts(nil, []usrloc.Contact{{URI: "sip:a@b", Expires: 100 + c.exp, Q: c.q}}, 100)
		if got := contactLineLen(len("sip:a@b"), c.exp, c.q); got != len(b) {
			t.Errorf("contactLineLen(exp %d, q %d) = %d; appendContacts wrote %d: %q", c.exp, c.q, got, len(b), b)
		}
	}
	rt := newRT(t, map[string]core.Value{"registrar.max_contacts": core.Int(0)})
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register(longContacts(0, 3, 100)), rec)
	base := replyBase(ctx, st(ctx))
	if Save(ctx, "location", 0) != 1 {
		t.Fatal("save failed")
	}
	reply := string(rec.Sent[0].B)
	want := base
	for _, l := range contactLines(reply) {
		want += len(l) + 2
	}
	if len(reply) != want {
		t.Errorf("reply of %d bytes; the estimate says %d:\n%s", len(reply), want, reply)
	}
}

// TestHardening_RegistrarLimits covers issue 10 item 2's defaults: at most
// 12 bindings per AoR, Contact URIs of at most 512 bytes; nothing is stored
// for a REGISTER that breaks either.
func TestHardening_RegistrarLimits(t *testing.T) {
	rt := newRT(t, nil)
	if rc, reply := doSave(t, rt, register(longContacts(0, 13, 40)), 0); rc != -2 || status(reply) != "SIP/2.0 503 Too Many Registered Contacts" {
		t.Fatalf("13 contacts: %d %q", rc, status(reply))
	}
	if rc, _ := doSave(t, rt, register(longContacts(0, 12, 40)), 0); rc != 1 {
		t.Fatalf("12 contacts: %d", rc)
	}
	if rc, reply := doSave(t, rt, register(longContacts(100, 1, 513)), 0); rc != -1 || status(reply) != "SIP/2.0 400 Contact Too Long" {
		t.Fatalf("a 513-byte Contact URI: %d %q", rc, status(reply))
	}
	if n := bindings(rt); n != 12 {
		t.Fatalf("%d bindings, want the 12 accepted", n)
	}
}
