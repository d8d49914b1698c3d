package registrar

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/usrloc"
	"kemi/sip"
)

// BenchmarkSave refreshes one binding (the common REGISTER) and, in
// "new", registers a new user each time (the AoR and the binding's
// strings are allocated then).
func BenchmarkSave(b *testing.B) {
	b.Run("refresh", func(b *testing.B) {
		rt := newRT(b, nil)
		raw := []byte(register("Contact: <sip:alice@192.0.2.10:5062>;q=0.8", "User-Agent: phone/1.0", "Expires: 600"))
		var m sip.Msg
		ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
		b.ReportAllocs()
		for b.Loop() {
			m.Parse(raw)
			ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
			if Save(ctx, "location", 0) < 0 {
				b.Fatal("save failed")
			}
		}
	})
	b.Run("refresh-db", func(b *testing.B) {
		// Write-through on: each refresh marks the record for the flusher.
		rt := newRT(b, map[string]core.Value{"usrloc.db_mode": core.Int(2), "usrloc.db_path": core.Str(filepath.Join(b.TempDir(), "kemi.db"))})
		if err := rt.Start(); err != nil {
			b.Fatal(err)
		}
		defer rt.Stop()
		raw := []byte(register("Contact: <sip:alice@192.0.2.10:5062>;q=0.8", "User-Agent: phone/1.0", "Expires: 600"))
		var m sip.Msg
		ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
		b.ReportAllocs()
		for b.Loop() {
			m.Parse(raw)
			ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
			if Save(ctx, "location", 0) < 0 {
				b.Fatal("save failed")
			}
		}
	})
	b.Run("refresh-db1-held", func(b *testing.B) {
		// Write-through (db_mode 1): each 200 is held until its batch is
		// on disk and sent by usrloc's flusher; the worker does not wait.
		rt := newRT(b, map[string]core.Value{"usrloc.db_mode": core.Int(1), "usrloc.db_path": core.Str(filepath.Join(b.TempDir(), "kemi.db"))})
		var sent atomic.Int64
		rt.SendFrom = func(netip.AddrPort, []byte, core.Proto, netip.AddrPort) error { sent.Add(1); return nil }
		if err := rt.Start(); err != nil {
			b.Fatal(err)
		}
		defer rt.Stop()
		raw := []byte(register("Contact: <sip:alice@192.0.2.10:5062>;q=0.8", "User-Agent: phone/1.0", "Expires: 600"))
		var m sip.Msg
		ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
		b.ReportAllocs()
		for b.Loop() {
			m.Parse(raw)
			ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
			if Save(ctx, "location", 0) < 0 {
				b.Fatal("save failed")
			}
		}
		b.StopTimer()
		usrloc.Get(rt).Flush()
	})
	b.Run("new", func(b *testing.B) {
		rt := newRT(b, nil)
		const n = 1 << 16
		raws := make([][]byte, n)
		for i := range raws {
			raws[i] = []byte(register("Contact: <sip:u"+strconv.Itoa(i)+"@192.0.2.10:5062>", "User-Agent: phone/1.0"))
			raws[i] = []byte(replaceUser(string(raws[i]), "u"+strconv.Itoa(i)))
		}
		var m sip.Msg
		ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == n {
				b.StopTimer()
				rt = newRT(b, nil)
				ctx.RT = rt
				i = 0
				b.StartTimer()
			}
			m.Parse(raws[i])
			i++
			ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
			if Save(ctx, "location", 0) < 0 {
				b.Fatal("save failed")
			}
		}
	})
}

func replaceUser(raw, user string) string {
	out := []byte(nil)
	for i := 0; i < len(raw); {
		if i+5 <= len(raw) && raw[i:i+5] == "alice" {
			out = append(out, user...)
			i += 5
			continue
		}
		out = append(out, raw[i])
		i++
	}
	return string(out)
}

// BenchmarkLookup routes an INVITE to a user with three bindings.
func BenchmarkLookup(b *testing.B) {
	rt := newRT(b, nil)
	var m sip.Msg
	ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
	m.Parse([]byte(register("Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=0.9, <sip:c@192.0.2.3>")))
	ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
	Save(ctx, "location", 0)
	inv := []byte(invite("sip:alice@example.com"))
	b.ReportAllocs()
	for b.Loop() {
		m.Parse(inv)
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if Lookup(ctx, "location") != 1 {
			b.Fatal("lookup failed")
		}
	}
}

// TestMemoryPer100k registers 100000 users with one binding each through
// save and reports the Go heap they take (run with -v to see it).
func TestMemoryPer100k(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 100000 users")
	}
	const n = 100000
	rt := newRT(t, nil)
	raw := register("Contact: <sip:alice@192.0.2.10:5062;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000000>\"",
		"User-Agent: Example Phone 1.2.3")
	var m sip.Msg
	ctx := &core.Ctx{Out: ksrtest.Discard, RT: rt}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := []byte(raw)
	for i := 0; i < n; i++ {
		user := "u" + strconv.Itoa(1000000+i)
		b := []byte(replaceUser(string(buf), user))
		if err := m.Parse(b); err != nil {
			t.Fatal(err)
		}
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if Save(ctx, "location", FlagNoReply) < 0 {
			t.Fatal("save failed")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	recs, cs := usrloc.Get(rt).Table("location").Len()
	if recs != n || cs != n {
		t.Fatalf("%d records, %d contacts", recs, cs)
	}
	t.Logf("heap for %d registered contacts: %.1f MB (%d bytes per contact)", n,
		float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), (after.HeapAlloc-before.HeapAlloc)/n)
}
