package resolve

import "testing"

func BenchmarkAppendURITargets(b *testing.B) {
	for _, c := range []struct{ name, uri string }{
		{"ip", "sip:bob@127.0.0.1:5070"},
		{"cached-naptr-srv", "sip:bob@example.test"},
		{"cached-a", "sip:plain.test:5060"},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, _, _ := newTest(b, Config{}, zone...)
			uri := []byte(c.uri)
			dst := make([]Target, 0, maxTargets)
			if _, err := r.AppendURITargets(dst, uri); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst, _ = r.AppendURITargets(dst[:0], uri)
			}
		})
	}
}
