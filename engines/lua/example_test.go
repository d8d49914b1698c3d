package lua_test

import (
	"fmt"

	"kemi/core"
	"kemi/engines/lua"
)

// A worker's life: compile the script once, build a VM per worker, call a
// callback per message.
func Example() {
	reg, _ := core.NewRegistry(&core.ModuleSpec{Name: "sl", Exports: []*core.Export{{
		Module: "sl", Name: "sl_send_reply", Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt,
		Call: func(ctx *core.Ctx, a []core.Value) core.Value {
			fmt.Println("reply", a[0].I, a[1].S)
			return core.Int(1)
		},
	}}})
	rt := &core.Runtime{Reg: reg}
	prog, err := lua.Engine{}.Compile("route.lua", []byte(`
function ksr_request_route()
	if KSR.auth then return end -- not loaded here: nil
	KSR.sl.sl_send_reply(404, "Not Here")
end`), rt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(prog.Has("ksr_request_route"), prog.Has("ksr_reply_route"))
	vm, _ := prog.NewVM()
	defer vm.Close()
	var ctx core.Ctx
	ctx.RT = rt
	fmt.Println(vm.Call(&ctx, "ksr_request_route"))
	fmt.Println(vm.Call(&ctx, "ksr_reply_route"))
	// Output:
	// true false
	// reply 404 Not Here
	// <nil>
	// callback not defined
}
