package usrloc

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"kemi/core"
	"kemi/internal/testsvc"
)

// BenchmarkUpdateDB measures a save's cost with the database: db_mode 1
// waits for its group commit, db_mode 2 does not. The parallelism stands
// for the workers saving at once.
func BenchmarkUpdateDB(b *testing.B) {
	for _, mode := range []int{1, 2} {
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("db_mode=%d/workers=%d", mode, par*2), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "loc.db")
				reg, _ := core.NewRegistry(core.Known("usrloc"))
				rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{
					"usrloc": {"db_mode": {core.Int(int64(mode))}, "db_path": {core.Str(path)}}}}
				if err := rt.Start(); err != nil {
					b.Fatal(err)
				}
				tb := Get(rt).Table("location")
				var n atomic.Int64
				b.SetParallelism(par) // times GOMAXPROCS (2 here)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						aor := fmt.Sprintf("user%d", n.Add(1)%5000)
						err := tb.Update([]byte(aor), func(r *Record) bool {
							r.Contacts = append(r.Contacts[:0], Contact{URI: "sip:" + aor + "@192.0.2.1", Expires: 1 << 40})
							return true
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				rt.Stop()
			})
		}
	}
}

// BenchmarkRedisApply measures applying another node's batch of one
// binding received over pub/sub (db_mode 1).
func BenchmarkRedisApply(b *testing.B) {
	srv := testsvc.StartRedis(b)
	reg, _ := core.NewRegistry(core.Known("usrloc"))
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{
		"usrloc": {"db_mode": {core.Int(1)}, "db_url": {core.Str(srv.URL(0))}}}}
	if err := rt.Start(); err != nil {
		b.Fatal(err)
	}
	defer rt.Stop()
	rb := Get(rt).b.(*redisBackend)
	c := Contact{URI: "sip:alice@192.0.2.1:5060", Q: -1, Expires: 1 << 40,
		CallID: "a84b4c76e66710@192.0.2.1", CSeq: 7, UserAgent: "sipp", Modified: 1}
	payload := string(rb.encodeBatch("othernode", []item{{table: "location", aor: "alice@example.com", contacts: []Contact{c}}}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rb.apply(payload)
	}
	b.StopTimer() // not rt.Stop's wait for the subscriber
}
