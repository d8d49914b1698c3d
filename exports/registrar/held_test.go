package registrar

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/tm"
	"kemi/exports/usrloc"
)

// laterSender records what rt.SendFrom sends (held replies), safely from
// usrloc's flusher goroutine.
type laterSender struct {
	mu   sync.Mutex
	sent []string
	from []netip.AddrPort
	to   []netip.AddrPort
}

func (l *laterSender) send(local netip.AddrPort, b []byte, _ core.Proto, to netip.AddrPort) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, string(b))
	l.from = append(l.from, local)
	l.to = append(l.to, to)
	return nil
}

// wait returns the replies once n were sent (or fails after 5 s).
func (l *laterSender) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := append([]string(nil), l.sent...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d held replies sent, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dbRT is a started runtime with usrloc in db_mode 1 on a file in a temp
// folder; with later, held replies leave through it.
func dbRT(t *testing.T, later *laterSender) (*core.Runtime, string, *syncBuf) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loc.db")
	rt := newRT(t, map[string]core.Value{"usrloc.db_mode": core.Int(1), "usrloc.db_path": core.Str(path)})
	log := new(syncBuf)
	rt.Log = &core.Logger{Level: core.LInfo, Out: log}
	if later != nil {
		rt.SendFrom = later.send
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt, path, log
}

// damage truncates the database file so that the next commit fails.
func damage(t *testing.T, path string) {
	t.Helper()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/3], 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHardening_Durability_RegistrarWriteFails: while the database file
// cannot be written, save answers 500, never 200, returns -1 and logs
// the cause; Contact: * too.
func TestHardening_Durability_RegistrarWriteFails(t *testing.T) {
	rt, path, log := dbRT(t, nil)
	if rc, rep := doSave(t, rt, register("Contact: <sip:alice@192.0.2.10:5062>"), 0); rc != 1 || status(rep) != "SIP/2.0 200 OK" {
		t.Fatalf("first save: %d %q", rc, status(rep))
	}
	damage(t, path)
	for i, extra := range []string{"Contact: <sip:alice@192.0.2.11:5062>", "Contact: <sip:alice@192.0.2.12:5062>"} {
		rc, rep := doSave(t, rt, register(extra), 0)
		if rc != -1 || status(rep) != "SIP/2.0 500 Server Internal Error" || len(contactLines(rep)) != 0 {
			t.Fatalf("save %d on a damaged file: rc %d, reply\n%s", i, rc, rep)
		}
	}
	rc, rep := doSave(t, rt, register("Contact: *", "Expires: 0"), 0)
	if rc != -1 || status(rep) != "SIP/2.0 500 Server Internal Error" {
		t.Fatalf("Contact: * on a damaged file: rc %d, %q", rc, status(rep))
	}
	if !strings.Contains(log.String(), "not written to the database") {
		t.Errorf("log:\n%s", log.String())
	}
	// With the flag to send no reply, nothing is sent and save fails.
	if rc, rep := doSave(t, rt, register("Contact: <sip:alice@192.0.2.13:5062>"), FlagNoReply); rc != -1 || rep != "" {
		t.Fatalf("no-reply save on a damaged file: %d %q", rc, rep)
	}
}

// TestHardening_Durability_RegistrarHeldReply: in db_mode 1 the 200 is
// held, not sent by the worker, and leaves through the socket the
// REGISTER came in on once the binding is in the file; when the commit
// fails the held 200 becomes a 500 without the Contact lines.
func TestHardening_Durability_RegistrarHeldReply(t *testing.T) {
	later := new(laterSender)
	rt, path, log := dbRT(t, later)
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.10:5062>"), rec)
	if rc := Save(ctx, "location", 0); rc != 1 {
		t.Fatalf("save: %d", rc)
	}
	if len(rec.Sent) != 0 {
		t.Fatalf("the worker sent %d replies; the flusher sends it", len(rec.Sent))
	}
	got := later.wait(t, 1)
	if status(got[0]) != "SIP/2.0 200 OK" || len(contactLines(got[0])) != 1 {
		t.Fatalf("held reply:\n%s", got[0])
	}
	if later.from[0] != ksrtest.Local || later.to[0] != ksrtest.Src {
		t.Fatalf("held reply sent from %v to %v, want %v to %v", later.from[0], later.to[0], ksrtest.Local, ksrtest.Src)
	}
	// The 200 went out after the commit: the binding is in the file.
	if err := usrloc.Get(rt).Flush(); err != nil {
		t.Fatal(err)
	}
	damage(t, path)
	ctx = msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.11:5062>"), rec)
	if rc := Save(ctx, "location", 0); rc != 2 && rc != 1 {
		t.Fatalf("save: %d", rc)
	}
	got = later.wait(t, 2)
	if status(got[1]) != "SIP/2.0 500 Server Internal Error" || len(contactLines(got[1])) != 0 ||
		!strings.HasSuffix(got[1], "Content-Length: 0\r\n\r\n") {
		t.Fatalf("held reply after a failed commit:\n%s", got[1])
	}
	if !strings.Contains(log.String(), "registrar: save: binding of") {
		t.Errorf("log:\n%s", log.String())
	}
	// While the file fails, the worker answers 500 itself at once.
	ctx = msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.12:5062>"), rec)
	if rc := Save(ctx, "location", 0); rc != -1 || len(rec.Sent) != 1 || status(string(rec.Sent[0].B)) != "SIP/2.0 500 Server Internal Error" {
		t.Fatalf("save while failing: rc %d, %d replies", rc, len(rec.Sent))
	}
	if heldN.Load() != 0 || heldBytes.Load() != 0 {
		t.Fatalf("%d held replies (%d bytes) left counted", heldN.Load(), heldBytes.Load())
	}
}

// TestHardening_Durability_RegistrarHeldOrder: REGISTERs of one AoR
// saved in a row are answered in that order, each 200 listing what its
// own REGISTER left.
func TestHardening_Durability_RegistrarHeldOrder(t *testing.T) {
	later := new(laterSender)
	rt, _, _ := dbRT(t, later)
	const n = 50
	for i := range n {
		ctx := msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.10:5062>", "Expires: "+itoa(100+i)), ksrtest.NewRecorder())
		if rc := Save(ctx, "location", 0); rc < 0 {
			t.Fatalf("save %d: %d", i, rc)
		}
	}
	got := later.wait(t, n)
	for i, r := range got {
		want := "expires=" + itoa(100+i)
		if cl := contactLines(r); len(cl) != 1 || !strings.Contains(cl[0], want) {
			t.Fatalf("reply %d: %v, want %s", i, cl, want)
		}
	}
}

// TestHardening_Durability_RegistrarTransaction: after t_newtran the 200
// goes through tm (recorded in the transaction, so a retransmitted
// REGISTER gets it again), sent by the worker once the binding is on
// disk, not held.
func TestHardening_Durability_RegistrarTransaction(t *testing.T) {
	later := new(laterSender)
	rt, _, _ := dbRT(t, later)
	tm.Attach(rt, tm.New(rt, stoppedClock{}, tm.RFCTimers()))
	raw := register("Contact: <sip:alice@192.0.2.10:5062>")
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, raw, rec)
	if rc := tm.NewTran(ctx); rc != 1 {
		t.Fatalf("t_newtran: %d", rc)
	}
	if rc := Save(ctx, "location", 0); rc != 1 {
		t.Fatalf("save: %d", rc)
	}
	if len(rec.Sent) != 1 || status(string(rec.Sent[0].B)) != "SIP/2.0 200 OK" || len(contactLines(string(rec.Sent[0].B))) != 1 {
		t.Fatalf("replies: %d", len(rec.Sent))
	}
	if tm.Reply(ctx, 500, "Again") != -1 {
		t.Fatal("the transaction has no final reply recorded")
	}
	// The retransmission is absorbed: tm sends the recorded 200 again.
	rec2 := ksrtest.NewRecorder()
	ctx2 := msgCtx(t, rt, raw, rec2)
	if rc := tm.NewTran(ctx2); rc != 0 {
		t.Fatalf("t_newtran on the retransmission: %d", rc)
	}
	if len(rec2.Sent) != 1 || string(rec2.Sent[0].B) != string(rec.Sent[0].B) {
		t.Fatalf("retransmission answered with %d replies:\n%v", len(rec2.Sent), rec2.Sent)
	}
	time.Sleep(20 * time.Millisecond)
	if len(later.sent) != 0 {
		t.Fatal("a reply was held although tm records it")
	}
}

// TestRegSendReply: save with flag 0x02 sends nothing and keeps its
// reply; reg_send_reply sends it once (the 200 with the bindings, or the
// error), and fails without a kept reply.
func TestRegSendReply(t *testing.T) {
	rt := newRT(t, nil)
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.10:5062>"), rec)
	if rc := RegSendReply(ctx); rc != -1 {
		t.Fatalf("reg_send_reply before save: %d", rc)
	}
	if rc := Save(ctx, "location", FlagNoReply); rc != 1 || len(rec.Sent) != 0 {
		t.Fatalf("save 0x02: rc %d, %d replies", rc, len(rec.Sent))
	}
	if rc := RegSendReply(ctx); rc != 1 || len(rec.Sent) != 1 {
		t.Fatalf("reg_send_reply: rc %d, %d replies", rc, len(rec.Sent))
	}
	got := string(rec.Sent[0].B)
	if status(got) != "SIP/2.0 200 OK" || len(contactLines(got)) != 1 {
		t.Fatalf("reply:\n%s", got)
	}
	if rc := RegSendReply(ctx); rc != -1 || len(rec.Sent) != 1 {
		t.Fatalf("second reg_send_reply: rc %d, %d replies", rc, len(rec.Sent))
	}
	// An error is kept too.
	ctx = msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.10:5062;;q=x"), rec)
	if rc := Save(ctx, "location", FlagNoReply); rc != -1 || len(rec.Sent) != 1 {
		t.Fatalf("bad save 0x02: rc %d, %d replies", rc, len(rec.Sent))
	}
	if rc := RegSendReply(ctx); rc != 1 || status(string(rec.Sent[1].B)) != "SIP/2.0 400 Bad Contact" {
		t.Fatalf("reg_send_reply after a bad save: rc %d, %q", rc, status(string(rec.Sent[len(rec.Sent)-1].B)))
	}
	// The next message has nothing kept.
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if rc := RegSendReply(ctx); rc != -1 {
		t.Fatalf("reg_send_reply on the next message: %d", rc)
	}
}

// TestAddSockHdr: the header names the receiving socket; a bad name
// (CR/LF, empty, colon) is refused and adds nothing; with sock_flag set,
// save stores the socket from that header.
func TestAddSockHdr(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"registrar.sock_flag": core.Int(3), "registrar.sock_hdr_name": core.Str("Sock-Info")})
	ctx := msgCtx(t, rt, register("Contact: <sip:alice@192.0.2.10:5062>"), ksrtest.NewRecorder())
	for _, bad := range []string{"", "Sock\r\nX-Injected", "Sock-Info:", "Sock Info"} {
		if rc := AddSockHdr(ctx, bad); rc != -1 {
			t.Fatalf("add_sock_hdr(%q): %d", bad, rc)
		}
	}
	if rc := AddSockHdr(ctx, "Sock-Info"); rc != 1 {
		t.Fatalf("add_sock_hdr: %d", rc)
	}
	want := "udp:" + ksrtest.Local.String()
	// As in Kamailio the header is an edit of the message: it goes out
	// with the relayed REGISTER, and a registrar receiving that reads it.
	out := string(ctx.Msg.AppendTo(nil))
	if !strings.Contains(out, "\r\nSock-Info: "+want+"\r\n") || strings.Count(out, "Sock") != 1 {
		t.Fatalf("relayed REGISTER:\n%s", out)
	}
	ctx = msgCtx(t, rt, out, ksrtest.NewRecorder())
	ctx.Flags |= 1 << 3
	if rc := Save(ctx, "location", 0); rc != 1 {
		t.Fatalf("save: %d", rc)
	}
	var sock string
	usrloc.Get(rt).Table("location").View([]byte("alice"), func(r *usrloc.Record) { sock = r.Contacts[0].Socket })
	if sock != want {
		t.Fatalf("stored socket %q, want %q", sock, want)
	}
}

// stoppedClock is a tm clock that never moves: no timer fires.
type stoppedClock struct{}

func (stoppedClock) Now() int64 { return 0 }
