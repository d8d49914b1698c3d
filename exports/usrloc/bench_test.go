package usrloc

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"kemi/core"
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
