package all

import (
	"testing"

	"kemi/core"
)

// BenchmarkLookupLinked is BenchmarkLookup of kemi/core over the modules
// actually linked here rather than a Kamailio-sized set.
func BenchmarkLookupLinked(b *testing.B) {
	reg, err := core.NewRegistry(core.Registered()...)
	if err != nil {
		b.Fatal(err)
	}
	all := reg.Exports()
	b.Run("hashed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			e := all[i%len(all)]
			if reg.Lookup(e.Module, e.Name) != e {
				b.Fatal("miss")
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			e := all[i%len(all)]
			var found *core.Export
			for _, x := range all {
				if x.Module == e.Module && x.Name == e.Name {
					found = x
					break
				}
			}
			if found != e {
				b.Fatal("miss")
			}
		}
	})
}
