package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestSubscribers(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "sub", "kemi.db"))
	if subs, gen, err := db.Subscribers(); err != nil || len(subs) != 0 || gen != 0 {
		t.Fatalf("missing file: %v %d %v, want empty", subs, gen, err)
	}
	if db.Stamp() != (Stamp{}) {
		t.Fatal("stamp of a missing file is not zero")
	}
	for _, s := range []Subscriber{{User: "bob", Domain: "example.com", Password: "b"}, {User: "alice", Domain: "example.com", HA1: "x"}} {
		if err := db.PutSubscriber(s); err != nil {
			t.Fatal(err)
		}
	}
	subs, gen, err := db.Subscribers()
	if err != nil || len(subs) != 2 || subs[0].User != "alice" || subs[1].Password != "b" || gen != 2 {
		t.Fatalf("got %+v gen %d err %v", subs, gen, err)
	}
	if err := db.DeleteSubscriber("alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSubscriber("alice@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if subs, gen, _ := db.Subscribers(); len(subs) != 1 || gen != 3 {
		t.Fatalf("after delete: %+v gen %d", subs, gen)
	}
}

func TestLocations(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "kemi.db"))
	if err := db.Locations("location", func(k, v []byte) error { t.Fatal("record in a missing file"); return nil }); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx *bolt.Tx) error {
		if err := PutLocation(tx, "location", "alice", []byte("a")); err != nil {
			return err
		}
		if err := PutLocation(tx, "location", "bob", []byte("b")); err != nil {
			return err
		}
		return PutLocation(tx, "location", "bob", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	db.Locations("location", func(k, v []byte) error { got[string(k)] = string(v); return nil })
	if len(got) != 1 || got["alice"] != "a" {
		t.Fatalf("got %v, want only alice", got)
	}
}

func TestSplitUser(t *testing.T) {
	if u, d, err := SplitUser("alice@example.com"); err != nil || u != "alice" || d != "example.com" {
		t.Fatal(u, d, err)
	}
	for _, bad := range []string{"alice", "@x", "a@", "a b@c"} {
		if _, _, err := SplitUser(bad); err == nil {
			t.Errorf("SplitUser(%q) gave no error", bad)
		}
	}
}

func TestCheckURL_UnsupportedSchemeNamesParam(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", ""},
		{"file:///var/lib/kemi/kemi.db", ""},
		{"FILE:///x.db", ""},
		{"mysql://kamailio:kamailiorw@localhost/kamailio", `modparam("usrloc", "db_url", ...): scheme "mysql" not supported; kemi supports file:///path/to/kemi.db (its own database file), or db_path`},
		{"text:///etc/kamailio/db", `scheme "text" not supported`},
		{"/var/lib/kemi.db", `modparam("usrloc", "db_url", ...): no scheme://`},
		{"file://host/x.db", `expected file:///path`},
		{"file://", `expected file:///path`},
	} {
		err := CheckURL("usrloc", c.url)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckURL(%q) = %v, want %q", c.url, err, c.want)
		}
	}
}
