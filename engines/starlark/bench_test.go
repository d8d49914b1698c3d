package starlark

import (
	"testing"

	"kemi/core"
)

// BenchmarkDirectGoCall is the floor: the export's thunk called from Go
// with the arguments already converted.
func BenchmarkDirectGoCall(b *testing.B) {
	f, _, _, ctx := load(b, "engine.star")
	e := f.Registry(b).Lookup("maxfwd", "process_maxfwd")
	args := []core.Value{core.Int(10)}
	b.ReportAllocs()
	for b.Loop() {
		e.Call(ctx, args)
	}
}

// BenchmarkStarlarkEmptyCallback is the cost of running a callback at all.
func BenchmarkStarlarkEmptyCallback(b *testing.B) { benchCallback(b, "empty") }

// BenchmarkStarlarkExportCall is a callback making one exported call; minus
// BenchmarkStarlarkEmptyCallback it is the cost of the call from Starlark.
func BenchmarkStarlarkExportCall(b *testing.B) { benchCallback(b, "one_export") }

// BenchmarkStarlarkSeed is the seed's routing logic: process_maxfwd then
// sl_send_reply, with fakes.
func BenchmarkStarlarkSeed(b *testing.B) { benchCallback(b, "ksr_request_route") }

// BenchmarkStarlarkExit is a callback ending in KSR.x.drop.
func BenchmarkStarlarkExit(b *testing.B) { benchCallback(b, "do_drop") }

func benchCallback(b *testing.B, cb string) {
	f, _, vm, ctx := load(b, "engine.star")
	f.Quiet = true
	b.ReportAllocs()
	for b.Loop() {
		if err := vm.Call(ctx, cb); err != nil {
			b.Fatal(err)
		}
	}
}
