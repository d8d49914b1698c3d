package testsvc

import "testing"

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
