package lua

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"kemi/core"
)

func init() {
	core.RegisterEngine(&core.EngineInfo{Name: "lua", Module: "app_lua", Engine: Engine{}})
}

// Engine compiles Lua routing scripts.
type Engine struct{}

// Program is a compiled script: the shared FunctionProto and the global
// functions its top level defines.
type Program struct {
	path  string
	proto *glua.FunctionProto
	rt    *core.Runtime
	funcs map[string]bool

	hookNotice sync.Once // debug.sethook's warning, once per script
}

// Compile parses and compiles src once, then runs its top level in a
// scratch VM to learn which callbacks it defines. Errors name path:line.
func (Engine) Compile(path string, src []byte, rt *core.Runtime) (core.Program, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), path)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				// The usual cause is a block missing its `end`.
				line := bytes.Count(src, []byte("\n")) + 1
				if len(src) > 0 && src[len(src)-1] == '\n' {
					line--
				}
				return nil, fmt.Errorf("%s:%d: %s at end of file (a block missing its 'end'?)", path, line, pe.Message)
			}
			return nil, fmt.Errorf("%s:%d:%d: %s near '%s'", path, pe.Pos.Line, pe.Pos.Column, pe.Message, pe.Token)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	proto, err := glua.Compile(chunk, path)
	if err != nil {
		var ce *glua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%s:%d: %s", path, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := &Program{path: path, proto: proto, rt: rt, funcs: map[string]bool{}}

	// Running the top level is the only way to know what it defines:
	// functions may be assigned conditionally or built by other code.
	vm, err := p.newVM()
	if err != nil {
		return nil, err
	}
	vm.L.G.Global.ForEach(func(k, v glua.LValue) {
		if f, ok := v.(*glua.LFunction); ok && !f.IsG {
			if name, ok := k.(glua.LString); ok {
				p.funcs[string(name)] = true
			}
		}
	})
	vm.Close()

	if regs := rt.ParamValues("app_lua", "register"); len(regs) > 0 && rt.Log != nil {
		rt.Log.Log(core.LNotice, nil, fmt.Sprintf(
			"app_lua: modparam register (%d given) is not needed: KSR and sr follow the loaded modules", len(regs)))
	}
	return p, nil
}

// Has reports whether the script's top level defines the Lua function name.
func (p *Program) Has(name string) bool { return p.funcs[name] }

// NewVM builds one worker's VM.
func (p *Program) NewVM() (core.VM, error) { return p.newVM() }

var (
	_ core.Engine  = Engine{}
	_ core.Program = (*Program)(nil)
	_ core.VM      = (*VM)(nil)
)
