package auth_db

import (
	"testing"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/internal/testsvc"
)

// BenchmarkSQL_HA1Lookup is the database's share of one auth_check
// against Kamailio's subscriber table over loopback: one SELECT.
func BenchmarkSQL_HA1Lookup(b *testing.B) {
	for _, eng := range []string{"postgres", "mysql"} {
		b.Run(eng, func(b *testing.B) {
			var s *testsvc.SQL
			if eng == "postgres" {
				s = testsvc.StartPostgres(b)
			} else {
				s = testsvc.StartMariaDB(b)
			}
			s.LoadKamailioSchema("auth_db")
			s.Exec("INSERT INTO subscriber (username, domain, ha1) VALUES ('alice', 'example.com', '" +
				auth.HA1(auth.MD5, "alice", "example.com", "pw") + "')")
			reg, _ := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
			rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth_db": {"db_url": {core.Str(s.URL())}}}}
			if err := rt.Start(); err != nil {
				b.Fatal(err)
			}
			defer rt.Stop()
			sec := get(rt).sql
			user, realm := []byte("alice"), []byte("example.com")
			var dst, buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var ok bool
				dst, buf, ok = sec.HA1(nil, user, realm, auth.MD5, dst[:0], buf)
				if !ok {
					b.Fatal("alice not found")
				}
			}
		})
	}
}
