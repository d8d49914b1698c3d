package testsvc

import (
	"net"
	"testing"
)

func TestRedisStartsAndAnswers(t *testing.T) {
	r := StartRedis(t)
	if _, err := r.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Do("GET", "k"); err != nil || v != "v" {
		t.Fatalf("GET k = %q, %v", v, err)
	}
	r.Stop()
	r.Start()
	if v, _ := r.Do("GET", "k"); v != "" {
		t.Fatalf("after restart GET k = %q, want empty (no persistence)", v)
	}
}

// takenFirst makes pickPort hand out a port held by a listener of the
// test's own first, as when another test binds it between FreePort and
// the server's bind, then real free ports.
func takenFirst(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func(t testing.TB) int {
		calls++
		if calls == 1 {
			return taken
		}
		return FreePort(t)
	}
	t.Cleanup(func() {
		pickPort = FreePort
		if calls < 2 {
			t.Errorf("pickPort called %d times, want a second port after the taken one", calls)
		}
	})
}

func TestTestsvc_RedisRetriesWhenPortTaken(t *testing.T) {
	takenFirst(t)
	r := StartRedis(t)
	if v, err := r.Do("PING"); err != nil || v != "PONG" {
		t.Fatalf("PING = %q, %v", v, err)
	}
}
