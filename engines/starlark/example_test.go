package starlark_test

import (
	"fmt"

	"kemi/core"
	"kemi/engines/starlark"
)

// A script is compiled once, each worker builds its VM, and the router
// calls the callbacks by name for every message.
func Example() {
	reg, _ := core.NewRegistry(&core.ModuleSpec{Name: "sl", Exports: []*core.Export{{
		Module: "sl", Name: "sl_send_reply", Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt,
		Call: func(ctx *core.Ctx, a []core.Value) core.Value {
			fmt.Println("reply", a[0].I, a[1].S)
			return core.Int(1)
		},
	}}})
	rt := &core.Runtime{Reg: reg}
	src := `
def ksr_request_route():
    if not KSR.maxfwd:
        KSR.sl.sl_send_reply(200, "OK without maxfwd")
`
	prog, err := starlark.Engine{}.Compile("route.star", []byte(src), rt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("has ksr_reply_route:", prog.Has("ksr_reply_route"))
	vm, err := prog.NewVM()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vm.Close()
	ctx := &core.Ctx{RT: rt}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(vm.Call(ctx, "ksr_reply_route") == core.ErrNoCallback)
	// Output:
	// has ksr_reply_route: false
	// reply 200 OK without maxfwd
	// true
}
