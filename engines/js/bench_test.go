package js

import (
	"testing"

	"kemi/core"
)

// BenchmarkDirectGoCall is the floor: the export's thunk called from Go
// with the arguments already converted.
func BenchmarkDirectGoCall(b *testing.B) {
	f, _, _, ctx := load(b, "engine.js")
	e := f.Registry(b).Lookup("maxfwd", "process_maxfwd")
	args := []core.Value{core.Int(10)}
	b.ReportAllocs()
	for b.Loop() {
		e.Call(ctx, args)
	}
}

// BenchmarkJSEmptyCallback is the cost of running a callback at all.
func BenchmarkJSEmptyCallback(b *testing.B) { benchCallback(b, "empty") }

// BenchmarkJSExportCall is a callback making one exported call; minus
// BenchmarkJSEmptyCallback it is the cost of the call from JavaScript.
func BenchmarkJSExportCall(b *testing.B) { benchCallback(b, "one_export") }

// BenchmarkJSSeed is the seed's routing logic: process_maxfwd then
// sl_send_reply, with fakes.
func BenchmarkJSSeed(b *testing.B) { benchCallback(b, "ksr_request_route") }

// BenchmarkJSExit is a callback ending in KSR.x.drop.
func BenchmarkJSExit(b *testing.B) { benchCallback(b, "do_drop") }

func benchCallback(b *testing.B, cb string) {
	f, _, vm, ctx := load(b, "engine.js")
	f.Quiet = true
	b.ReportAllocs()
	for b.Loop() {
		if err := vm.Call(ctx, cb); err != nil {
			b.Fatal(err)
		}
	}
}
