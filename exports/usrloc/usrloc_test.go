package usrloc

import (
	"path/filepath"
	"testing"

	"kemi/core"
	"kemi/internal/store"
)

func TestDBPath(t *testing.T) {
	t.Setenv("KEMI_DB", "/tmp/x/kemi.db")
	for _, c := range []struct{ path, url, want string }{
		{"/a/b.db", "file:///c/d.db", "/a/b.db"},
		{"", "file:///c/d.db", "/c/d.db"},
		{"", "", "/tmp/x/kemi.db"},
		{"", "", store.DefaultPath()},
	} {
		if got := DBPath(c.path, c.url); got != c.want {
			t.Errorf("DBPath(%q, %q) = %q, want %q", c.path, c.url, got, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	u := &Usrloc{tables: map[string]*Table{}}
	tb := u.Table("location")
	if u.Table("location") != tb {
		t.Fatal("Table made a second table")
	}
	tb.Update([]byte("alice"), func(r *Record) bool {
		r.Contacts = append(r.Contacts, Contact{URI: "sip:a@x", Expires: 100}, Contact{URI: "sip:b@x", Expires: 200})
		return true
	})
	tb.Update([]byte("bob"), func(r *Record) bool { return false }) // no contacts: not kept
	if recs, cs := tb.Len(); recs != 1 || cs != 2 {
		t.Fatalf("Len = %d, %d; want 1, 2", recs, cs)
	}
	if n := u.Expire(150); n != 1 {
		t.Fatalf("Expire(150) = %d, want 1", n)
	}
	if n := u.Expire(200); n != 1 {
		t.Fatalf("Expire(200) = %d, want 1", n)
	}
	if recs, _ := tb.Len(); recs != 0 {
		t.Fatal("record with no bindings kept")
	}
}

func TestBadTimerInterval(t *testing.T) {
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"usrloc": {"timer_interval": {core.Int(0)}}}}
	if err := rt.Start(); err == nil {
		t.Fatal("timer_interval 0 accepted")
	}
}

func TestLoadSkipsExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	params := map[string]map[string][]core.Value{"usrloc": {"db_mode": {core.Int(1)}, "db_path": {core.Str(path)}}}
	rt := &core.Runtime{Reg: reg, Params: params}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	tb := Get(rt).Table("location")
	tb.Update([]byte("old"), func(r *Record) bool {
		r.Contacts = append(r.Contacts, Contact{URI: "sip:o@x", Expires: 1})
		return true
	})
	tb.Update([]byte("new"), func(r *Record) bool {
		r.Contacts = append(r.Contacts, Contact{URI: "sip:n@x", Expires: 1 << 40})
		return true
	})
	rt.Stop()
	rt2 := &core.Runtime{Reg: reg, Params: params}
	if err := rt2.Start(); err != nil {
		t.Fatal(err)
	}
	defer rt2.Stop()
	if recs, _ := Get(rt2).Table("location").Len(); recs != 1 {
		t.Fatalf("loaded %d records, want only the live one", recs)
	}
}
