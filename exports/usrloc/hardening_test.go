package usrloc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
	"kemi/internal/store"
)

func startDB(t *testing.T, path string, mode int) (*core.Runtime, *lockedWriter) {
	t.Helper()
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	log := &lockedWriter{w: new(bytes.Buffer)}
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: log}, Params: map[string]map[string][]core.Value{
		"usrloc": {"db_mode": {core.Int(int64(mode))}, "db_path": {core.Str(path)}}}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	return rt, log
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func onDisk(t *testing.T, path string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	if err := store.Open(path).Locations("location", func(aor, _ []byte) error { got[string(aor)] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func add(tb *Table, aor string) error {
	return tb.Update([]byte(aor), func(r *Record) bool {
		r.Contacts = append(r.Contacts, Contact{URI: "sip:" + aor + "@192.0.2.1", Expires: 1 << 40})
		return true
	})
}

// TestHardening_Durability_WriteThrough: with db_mode 1, Update returns
// only once its binding is in the file; concurrent updates share commits.
func TestHardening_Durability_WriteThrough(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loc.db")
	rt, _ := startDB(t, path, 1)
	defer rt.Stop()
	tb := Get(rt).Table("location")
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := map[string]bool{}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				aor := fmt.Sprintf("u%02d-%02d", g, i)
				if err := add(tb, aor); err != nil {
					t.Error(err)
					return
				}
				// Read the file right away, as after a SIGKILL.
				if !onDisk(t, path)[aor] {
					t.Errorf("%s: Update returned before its binding was on disk", aor)
				}
				mu.Lock()
				done[aor] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got := onDisk(t, path); len(got) != len(done) {
		t.Fatalf("%d on disk, %d acknowledged", len(got), len(done))
	}
}

// TestHardening_DamagedFile_UsrlocStart: a damaged location file stops
// the start with an error naming it and how to recover.
func TestHardening_DamagedFile_UsrlocStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loc.db")
	rt, _ := startDB(t, path, 1)
	for i := range 300 {
		add(Get(rt).Table("location"), fmt.Sprintf("user%03d", i))
	}
	rt.Stop()
	good, _ := os.ReadFile(path)
	for _, n := range []int{0, 1, 4095, 4096, len(good) / 2} {
		os.WriteFile(path, good[:n], 0o600)
		reg, _ := core.NewRegistry(core.Known("usrloc"))
		rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{
			"usrloc": {"db_mode": {core.Int(1)}, "db_path": {core.Str(path)}}}}
		err := rt.Start()
		if err == nil {
			rt.Stop()
			t.Fatalf("cut at %d: started", n)
		}
		if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "mv ") {
			t.Errorf("cut at %d: %v", n, err)
		}
	}
}

// TestHardening_DamagedFile_UsrlocRuntime damages the file under a
// running server: updates stay in memory and report the error (logged
// once), and once the file is moved aside every binding is written to a
// new one.
func TestHardening_DamagedFile_UsrlocRuntime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loc.db")
	rt, log := startDB(t, path, 1)
	defer rt.Stop()
	tb := Get(rt).Table("location")
	for i := range 50 {
		if err := add(tb, fmt.Sprintf("user%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := os.ReadFile(path)
	os.WriteFile(path, good[:len(good)/3], 0o600)
	err := add(tb, "late")
	if !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("update on a damaged file: %v", err)
	}
	// While failing, a write-through update does not hold the worker.
	t0 := time.Now()
	if err := add(tb, "later"); err == nil || time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("second update: %v after %v", err, time.Since(t0))
	}
	if recs, _ := tb.Len(); recs != 52 {
		t.Fatalf("%d records in memory, want 52", recs)
	}
	os.Rename(path, path+".bad")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			if got := onDisk(t, path); len(got) == 52 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := onDisk(t, path); len(got) != 52 {
		t.Fatalf("%d bindings in the new file, want 52", len(got))
	}
	out := log.String()
	if strings.Count(out, "writing bindings") != 1 || !strings.Contains(out, "wrote every binding") || !strings.Contains(out, "works again") {
		t.Errorf("log:\n%s", out)
	}
}

// TestHardening_Durability_AfterStop: a write-through change made after
// the flusher stopped is written by the caller, not left waiting.
func TestHardening_Durability_AfterStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loc.db")
	rt, _ := startDB(t, path, 1)
	tb := Get(rt).Table("location")
	rt.Stop()
	done := make(chan error, 1)
	go func() { done <- add(tb, "late") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Update after stop hangs")
	}
	if !onDisk(t, path)["late"] {
		t.Fatal("not on disk")
	}
}
