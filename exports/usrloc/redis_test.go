package usrloc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kemi/core"
	"kemi/internal/testsvc"
)

func startRedisNode(t *testing.T, url string, mode int) (*core.Runtime, *lockedWriter) {
	t.Helper()
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	log := &lockedWriter{w: new(bytes.Buffer)}
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: log}, Params: map[string]map[string][]core.Value{
		"usrloc": {"db_mode": {core.Int(int64(mode))}, "db_url": {core.Str(url)}}}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt, log
}

func has(rt *core.Runtime, aor string) bool {
	found := false
	Get(rt).Table("location").View([]byte(aor), func(r *Record) { found = r != nil && len(r.Contacts) > 0 })
	return found
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestScaling_RedisCacheSync: db_mode 1 nodes sharing one Redis see each
// other's saves and removals in memory within a second (pub/sub), and a
// node started later loads them.
func TestScaling_RedisCacheSync(t *testing.T) {
	srv := testsvc.StartRedis(t)
	for _, mode := range []int{1, 2} {
		db := mode
		n1, _ := startRedisNode(t, srv.URL(db), mode)
		n2, _ := startRedisNode(t, srv.URL(db), mode)
		if err := add(Get(n1).Table("location"), "alice"); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, "node 2 sees alice", func() bool { return has(n2, "alice") })
		n3, _ := startRedisNode(t, srv.URL(db), mode)
		if !has(n3, "alice") {
			t.Fatal("node started later did not load alice")
		}
		if _, err := Get(n3).Table("location").DeleteErr([]byte("alice")); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, "node 1 drops alice", func() bool { return !has(n1, "alice") && !has(n2, "alice") })
	}
}

// TestScaling_RedisDBOnly: db_mode 3 reads Redis on every lookup, without
// a cache: a removal through one node is seen by the next lookup on the
// other.
func TestScaling_RedisDBOnly(t *testing.T) {
	srv := testsvc.StartRedis(t)
	n1, _ := startRedisNode(t, srv.URL(0), 3)
	n2, _ := startRedisNode(t, srv.URL(0), 3)
	if err := add(Get(n1).Table("location"), "bob"); err != nil {
		t.Fatal(err)
	}
	if !has(n2, "bob") {
		t.Fatal("node 2 lookup did not read bob from Redis")
	}
	// A save on node 2 keeps node 1's binding.
	if err := Get(n2).Table("location").Update([]byte("bob"), func(r *Record) bool {
		r.Contacts = append(r.Contacts, Contact{URI: "sip:bob2@192.0.2.2", Expires: 1 << 40})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	Get(n1).Table("location").View([]byte("bob"), func(r *Record) { n = len(r.Contacts) })
	if n != 2 {
		t.Fatalf("node 1 sees %d bindings of bob, want 2", n)
	}
	Get(n2).Table("location").Delete([]byte("bob"))
	if has(n1, "bob") {
		t.Fatal("node 1 still finds bob after node 2 removed him")
	}
	if ttl, _ := srv.Do("EXISTS", "kemi:ul:location:bob"); ttl != "0" {
		t.Fatalf("key left after removal: EXISTS = %s", ttl)
	}
}

// TestScaling_RedisOutage: while Redis does not answer, write-through
// saves fail (the caller answers 500); once it is back the node writes
// again by itself, and a server that came back empty gets every binding
// again.
func TestScaling_RedisOutage(t *testing.T) {
	srv := testsvc.StartRedis(t)
	n1, log := startRedisNode(t, srv.URL(0), 1)
	tb := Get(n1).Table("location")
	if err := add(tb, "before"); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	if err := add(tb, "during"); err == nil {
		t.Fatal("save during the outage returned nil")
	}
	srv.Resume()
	eventually(t, 5*time.Second, "write after resume", func() bool { return add(tb, "after") == nil })
	srv.Stop()
	srv.Start()
	eventually(t, 10*time.Second, "rewrite to the empty server", func() bool {
		v, _ := srv.Do("EXISTS", "kemi:ul:location:before")
		return v == "1"
	})
	if v, _ := srv.Do("EXISTS", "kemi:ul:location:during"); v != "1" {
		t.Fatal("the binding kept in memory during the outage was not written after it")
	}
	if !strings.Contains(log.String(), "restarted empty") {
		t.Errorf("no log line about the empty server:\n%s", log)
	}
}

// BenchmarkRedisSave: one binding saved through a db_mode 1 and 3 node
// (write-through on one Redis), per op; sequential, so every save is its
// own batch (the worst case: no group commit).
func BenchmarkRedisSave(b *testing.B) {
	srv := testsvc.StartRedis(b)
	for _, mode := range []int{1, 3} {
		b.Run("db_mode="+strconv.Itoa(mode), func(b *testing.B) {
			reg, _ := core.NewRegistry(core.Known("usrloc"))
			rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{
				"usrloc": {"db_mode": {core.Int(int64(mode))}, "db_url": {core.Str(srv.URL(mode))}}}}
			if err := rt.Start(); err != nil {
				b.Fatal(err)
			}
			defer rt.Stop()
			tb := Get(rt).Table("location")
			aors := make([][]byte, 1000)
			for i := range aors {
				aors[i] = []byte("user" + strconv.Itoa(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := tb.Update(aors[i%len(aors)], func(r *Record) bool {
					c := Contact{URI: "sip:x@192.0.2.1:5060", Expires: time.Now().Unix() + 3600, CallID: "abcdef0123456789@192.0.2.1", CSeq: uint32(i), UserAgent: "sipp", Q: -1, Modified: time.Now().Unix()}
					if len(r.Contacts) == 0 {
						r.Contacts = append(r.Contacts, c)
					} else {
						r.Contacts[0] = c
					}
					return true
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer() // not rt.Stop's wait for the subscriber
		})
	}
}

// TestHardening_RedisBadField: a field of an AoR's hash that is not a
// binding (garbage written by another client) is skipped and logged; the
// AoR's other bindings are found and it can still be saved.
func TestHardening_RedisBadField(t *testing.T) {
	srv := testsvc.StartRedis(t)
	n1, log := startRedisNode(t, srv.URL(0), 3)
	tb := Get(n1).Table("location")
	if err := add(tb, "carol"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"{not json", `{"expires": 99999999999}`, strings.Repeat("[", 10000)} {
		if _, err := srv.Do("HSET", "kemi:ul:location:carol", "junk"+strconv.Itoa(len(v)), v); err != nil {
			t.Fatal(err)
		}
	}
	if !has(n1, "carol") {
		t.Fatal("carol's binding not found next to garbage fields")
	}
	if err := add(tb, "carol"); err != nil {
		t.Fatalf("save of an AoR with garbage fields: %v", err)
	}
	if !strings.Contains(log.String(), "is not a binding") {
		t.Errorf("no log line about the garbage field:\n%s", log)
	}
}

// TestScaling_RedisURLs: db_url forms for a single server, Sentinel and
// Cluster give the matching go-redis client (no server needed to build
// one); a bad URL is an error naming the parameter.
func TestScaling_RedisURLs(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"redis://127.0.0.1:6379/2", "*redis.Client"},
		{"redis://:secret@127.0.0.1:6379/0", "*redis.Client"},
		{"redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380", "*redis.Client"},
		{"redis-sentinel://127.0.0.1:26379/0?master_name=mymaster", "*redis.Client"},
		{"redis-cluster://127.0.0.1:7000?addr=127.0.0.1:7001", "*redis.ClusterClient"},
	} {
		cl, err := redisClient(c.url, 4)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got := fmt.Sprintf("%T", cl); got != c.want {
			t.Errorf("%s: client %s, want %s", c.url, got, c.want)
		}
		cl.Close()
	}
	if _, err := openRedis(&Usrloc{}, "redis://127.0.0.1:notaport/0", 4); err == nil || !strings.Contains(err.Error(), `modparam("usrloc", "db_url"`) {
		t.Errorf("bad URL: %v", err)
	}
	if got := redacted("redis://:secret@127.0.0.1:6379/0"); strings.Contains(got, "secret") {
		t.Errorf("redacted URL keeps the password: %s", got)
	}
}

// TestHardening_RedisDatabasesApart: nodes on database 1 and on database
// 2 of one server (pub/sub channels are server-wide) do not apply each
// other's batches.
func TestHardening_RedisDatabasesApart(t *testing.T) {
	srv := testsvc.StartRedis(t)
	a1, _ := startRedisNode(t, srv.URL(1), 1)
	a2, _ := startRedisNode(t, srv.URL(1), 1)
	b1, _ := startRedisNode(t, srv.URL(2), 1)
	if err := add(Get(a1).Table("location"), "dave"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the node on the same database sees dave", func() bool { return has(a2, "dave") })
	time.Sleep(100 * time.Millisecond)
	if has(b1, "dave") {
		t.Fatal("a node on database 2 applied a batch of database 1")
	}
}

// concurrentDevices saves n devices of one AoR at once, half through
// each node, and returns how many bindings the AoR has afterwards.
func concurrentDevices(t *testing.T, n1, n2 *core.Runtime, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt := n1
			if i%2 == 1 {
				rt = n2
			}
			errs <- Get(rt).Table("location").Update([]byte("erin"), func(r *Record) bool {
				r.Contacts = append(r.Contacts, Contact{URI: fmt.Sprintf("sip:erin@192.0.2.%d", i+1), Expires: time.Now().Unix() + 600, Modified: int64(i)})
				return true
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	Get(n1).Table("location").View([]byte("erin"), func(r *Record) {
		if r != nil {
			got = len(r.Contacts)
		}
	})
	return got
}

// TestScaling_RedisConcurrentDevices: with db_mode 3, devices of one AoR
// saved at the same moment through two nodes all stay (each save writes
// its own binding, not the whole record it read).
func TestScaling_RedisConcurrentDevices(t *testing.T) {
	srv := testsvc.StartRedis(t)
	n1, _ := startRedisNode(t, srv.URL(0), 3)
	n2, _ := startRedisNode(t, srv.URL(0), 3)
	if got := concurrentDevices(t, n1, n2, 40); got != 40 {
		t.Fatalf("%d of 40 devices saved at once through two nodes kept", got)
	}
	ttl, _ := srv.Do("TTL", "kemi:ul:location:erin")
	if n, _ := strconv.Atoi(ttl); n < 590 || n > 601 {
		t.Fatalf("TTL of the AoR's key: %s, want about 600", ttl)
	}
}

// TestHardening_RedisDownAtStart: a node whose Redis does not answer at
// start stops with an error naming the server (not its password), within
// a few seconds: it must not serve an empty view of a shared table.
func TestHardening_RedisDownAtStart(t *testing.T) {
	port := testsvc.FreePort(t) // nothing listens there
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	url := "redis://:hunter2@127.0.0.1:" + strconv.Itoa(port) + "/0"
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{
		"usrloc": {"db_mode": {core.Int(1)}, "db_url": {core.Str(url)}}}}
	start := time.Now()
	err := rt.Start()
	if err == nil {
		rt.Stop()
		t.Fatal("start with Redis down succeeded")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q: want the server named, without the password", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("start took %v to fail", d)
	}
}

// TestScaling_RedisWireEncoding: the PUBLISH payload built from the
// contacts encoded once for HSET is byte for byte what encoding/json
// makes of the batch, for AoRs and contacts with quotes, control
// characters, HTML characters, invalid UTF-8 and U+2028, and it decodes
// back to the same bindings.
func TestScaling_RedisWireEncoding(t *testing.T) {
	odd := []string{"alice", `a"b\c`, "tab\there\x01\x1f", "<sip:x&y>", "bad\xff\xfeutf8", "ls\u2028ps\u2029", "ünï©ødé", ""}
	var items []item
	for i, s := range odd {
		it := item{table: "location" + s, aor: s + "@example.com"}
		if i%3 != 2 {
			it.contacts = []Contact{{URI: "sip:" + s + "@192.0.2.1", Q: -1, Expires: 1 << 40, CallID: s, CSeq: 7,
				Received: s, Path: "<" + s + ">", UserAgent: s, Instance: s, RegID: 1, Flags: 3, Methods: 5, Socket: s, Modified: 9}}
		}
		items = append(items, it)
	}
	var w wireBatch
	for _, it := range items {
		w.I = append(w.I, wireItem{T: it.table, A: it.aor, C: it.contacts})
	}
	want, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := encodeItems(items)
	if err != nil {
		t.Fatal(err)
	}
	got := appendBatch(nil, items, vals)
	if !bytes.Equal(got, want) {
		t.Fatalf("payload differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	var back wireBatch
	if err := json.Unmarshal(got, &back); err != nil || len(back.I) != len(items) {
		t.Fatalf("payload does not decode: %v", err)
	}
}

// TestScaling_RedisOwnBatchesNotReceived: a node subscribes to patterns
// that match every other node's channel exactly once and its own not at
// all (Redis's glob has the same [^x] as path.Match), so the server does
// not send a node the batches it published itself.
func TestScaling_RedisOwnBatchesNotReceived(t *testing.T) {
	ids := []string{"a1b2c3d4e5f6", "a1b2c3d4e5f7", "b1b2c3d4e5f6", "000000000000", "ffffffffffff", "a1b2c3000000"}
	for _, own := range ids {
		b := &redisBackend{chann: redisChannel + "0", node: own}
		pats := b.othersPatterns()
		for _, other := range ids {
			n := 0
			for _, p := range pats {
				if ok, err := path.Match(p, b.chann+":"+other); err != nil {
					t.Fatal(err)
				} else if ok {
					n++
				}
			}
			want := 1
			if other == own {
				want = 0
			}
			if n != want {
				t.Errorf("node %s: channel of %s matches %d of %q, want %d", own, other, n, pats, want)
			}
		}
		if ok, _ := path.Match(pats[0], redisChannel+"01:"+ids[1]); ok {
			t.Errorf("pattern %q matches database 01's channel", pats[0])
		}
	}
}
