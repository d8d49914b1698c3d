// Package lua is kemi's Lua routing engine (cfgengine "lua", module
// app_lua), built on gopher-lua.
//
// A script is parsed and compiled once into a FunctionProto that every
// worker shares. Each worker builds its own VM: a fresh LState with Lua
// 5.1's libraries as Kamailio's app_lua has them (stdlib.go: require
// searching the script's folder first, io, os without os.exit, debug,
// coroutine, load; their file and process access is the script author's
// own, as in Kamailio), the KSR object bound once and the script's top
// level run once. Modules loaded with require are per VM, so a reload
// (new VMs) loads them again. KSR holds one subtable per loaded module
// whose members are Go closures over the resolved *core.Export, so a call
// from Lua converts its arguments into a per-VM buffer and calls the thunk:
// no name lookup and no allocation per call. A module that is not loaded is
// absent (KSR.auth is nil), so scripts can test for it. The seed's legacy
// sr object (sr.maxfwd.process_maxfwd, sr.sl.send_reply, sr.log) maps onto
// the same exports.
//
// KSR.x.exit and KSR.x.drop end the callback: by making every Lua frame
// return at once when only plain Lua calls are on the stack (unwind.go),
// otherwise with a preallocated sentinel error that VM.Call turns back into
// a normal return. Runaway scripts stop on a per-call instruction budget,
// counted through the context gopher-lua polls before each instruction
// (budget.go); the error wraps core.ErrBudget and the VM stays usable.
// The same poll reads the instruction about to run and charges the ones
// that allocate to a per-message memory budget (memory.go, modparam
// app_lua memory_budget), and refuses stores into KSR and sr, which are
// read-only (readonly.go). The library functions that build a large value
// in one call check it first; string.gsub and table.concat are kemi's own,
// and so are find, match and gmatch, on a Lua 5.1 pattern matcher whose
// steps count against the step budget (pattern.go).
// docs/lua-sandbox.md says what is and is not counted.
//
// Errors carry the script position: "path:line: message", for parse and
// compile errors from Compile as for runtime errors from VM.Call
// (*ScriptError, which wraps core.ErrBudget or the error an export failed
// with).
package lua
