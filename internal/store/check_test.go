package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fill writes subscribers and enough location records to span many pages.
func fill(t testing.TB, path string) {
	t.Helper()
	db := Open(path)
	for i := range 20 {
		if err := db.PutSubscriber(Subscriber{User: fmt.Sprintf("u%02d", i), Domain: "example.com", HA1: strings.Repeat("a", 32)}); err != nil {
			t.Fatal(err)
		}
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for i := range 400 {
			if err := PutLocation(tx, "location", fmt.Sprintf("user%04d", i), bytes.Repeat([]byte{'x'}, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readAll reads every subscriber and location of path, as a server does
// at start and as auth_db's poll does.
func readAll(path string) (subs, locs int, err error) {
	db := Open(path)
	list, _, err := db.Subscribers()
	if err != nil {
		return 0, 0, err
	}
	err = db.Locations("location", func(aor, val []byte) error { locs++; return nil })
	return len(list), locs, err
}

// TestHardening_DamagedFile_CleanError cuts and overwrites a database in
// the ways a crash, a full disk or a stray command do: each read, write
// and Inspect either fails with a DamagedError naming the file, or (when
// the damage missed every page in use) reads all the data back. None
// faults or panics.
func TestHardening_DamagedFile_CleanError(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	fill(t, orig)
	good, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(orig)
	if err != nil {
		t.Fatalf("Inspect of a good file: %v", err)
	}
	ps := info.PageSize
	size := len(good)
	inUse := int(info.Meta[info.Use].HWM) * ps
	t.Logf("file %d bytes, page size %d, %d bytes in use", size, ps, inUse)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, size)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	type tc struct {
		name string
		data []byte
		ok   bool // the damage leaves the data whole
	}
	cases := []tc{
		{"random garbage", garbage, false},
		{"zeroed meta pages", append(make([]byte, 2*ps), good[2*ps:]...), false},
		// bbolt falls back to the older meta page: the file is usable and
		// holds the state before the last transaction.
		{"zeroed meta page 0", append(make([]byte, ps), good[ps:]...), true},
		{"zeroed meta page 1", append(append(append([]byte{}, good[:ps]...), make([]byte, ps)...), good[2*ps:]...), true},
		{"garbage meta page 0 and 1", append(append([]byte{}, garbage[:2*ps]...), good[2*ps:]...), false},
	}
	for _, n := range []int{0, 1, 15, 79, 80, 4095, 4096, ps + 1, 2*ps - 1, 2 * ps, 3 * ps, size / 2, inUse - 1} {
		cases = append(cases, tc{fmt.Sprintf("cut at %d", n), good[:n], false})
	}
	for _, n := range []int{inUse, size - 1} {
		cases = append(cases, tc{fmt.Sprintf("cut at %d", n), good[:n], true})
	}
	for range 8 {
		n := 1 + rng.IntN(size-1)
		cases = append(cases, tc{fmt.Sprintf("cut at random %d", n), good[:n], n >= inUse})
	}
	// Garbage pages in the middle: bbolt reads them through the map.
	for i := range 6 {
		b := append([]byte{}, good...)
		pg := 2 + rng.IntN(inUse/ps-2)
		copy(b[pg*ps:(pg+1)*ps], garbage[pg*ps:])
		cases = append(cases, tc{fmt.Sprintf("garbage page %d (%d)", pg, i), b, true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".db")
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, ierr := Inspect(path)
			subs, locs, rerr := readAll(path)
			werr := Open(path).PutSubscriber(Subscriber{User: "new", Domain: "example.com", HA1: "x"})
			for what, err := range map[string]error{"Inspect": ierr, "read": rerr, "write": werr} {
				if err == nil {
					continue
				}
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "kemi db check") {
					t.Errorf("%s: %v, want a DamagedError naming the file", what, err)
				}
			}
			if c.ok && ierr != nil {
				t.Errorf("Inspect: %v, want nil: the pages in use are whole", ierr)
			}
			if !c.ok && ierr == nil && rerr == nil && (subs != 20 || locs != 400) {
				t.Errorf("no error, and read %d subscribers, %d locations", subs, locs)
			}
			partial := strings.HasPrefix(c.name, "garbage page") || c.name == "zeroed meta page 0"
			if ierr == nil && rerr == nil && !partial && (subs != 20 || locs != 400) {
				t.Errorf("read %d subscribers, %d locations, want 20, 400", subs, locs)
			}
			if ierr != nil {
				t.Logf("%v", ierr)
			} else if rerr != nil {
				t.Logf("read: %v", rerr)
			}
			// A damaged file is left as it was, for recovery.
			if ierr != nil {
				if b, _ := os.ReadFile(path); !bytes.Equal(b, c.data) {
					t.Error("the damaged file was changed")
				}
			}
		})
	}
}

// TestHardening_DamagedFile_ShrinksWhileRead cuts the file while a read
// transaction has it mapped (what `truncate` does to a running server):
// the read fails with a DamagedError instead of a SIGBUS.
func TestHardening_DamagedFile_ShrinksWhileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	fill(t, path)
	info, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = Open(path).View(func(tx *bolt.Tx) error {
		if err := os.Truncate(path, int64(2*info.PageSize)); err != nil {
			return err
		}
		return tx.Bucket([]byte("location/location")).ForEach(func(k, v []byte) error { n++; return nil })
	})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("read %d records, err %v; want a DamagedError", n, err)
	}
	t.Log(err)
	// The next open sees the cut at once.
	if _, _, err := Open(path).Subscribers(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("reopen: %v", err)
	}
}

func TestNewFileMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "kemi.db")
	if err := Open(path).PutSubscriber(Subscriber{User: "a", Domain: "b", HA1: "x"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v; want 0600", fi.Mode(), err)
	}
}
