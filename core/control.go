package core

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Control is what the server tells the RPC methods about itself: when it
// started, its workers, and how to reload the routing script. The server
// sets Runtime.Control before serving; it is nil offline (kemi test).
type Control struct {
	Started time.Time
	// Config is the config file path; Script the running script's.
	Config, Script string
	// Engine is the running engine's module (app_lua, app_jsdt, app_starlark).
	Engine string
	// Procs lists the server's workers and helpers for core.ps/core.psx.
	Procs func() []Proc
	// Reload compiles the script again and, when it compiles, makes
	// every worker run it from its next message; the error names
	// file:line and the running script stays.
	Reload func() (ReloadInfo, error)
	// RPC runs one JSON-RPC request document and returns the response
	// document (nil for a notification): jsonrpcs.dispatch and exec.
	RPC func(req []byte) []byte
	// Metrics writes the Prometheus text exposition (xhttp_prom); nil
	// when the server has none.
	Metrics func(w io.Writer) error
}

// Proc is one row of core.ps.
type Proc struct {
	Index int
	PID   int
	Desc  string
}

// ReloadInfo is what a successful reload reports.
type ReloadInfo struct {
	Script     string `json:"script"`
	Generation uint64 `json:"generation"`
}

// app_*.reload: compile the script again; on success every worker runs
// it from its next message. Shared by the engine modules.
func RPCReload(engine string) RPCFunc {
	return func(rt *Runtime, _ []Value) (any, error) {
		c := rt.Control
		if c == nil || c.Reload == nil {
			return nil, errors.New(engine + ".reload: no server to reload")
		}
		if c.Engine != engine {
			return nil, fmt.Errorf("%s.reload: the running engine is %s", engine, c.Engine)
		}
		info, err := c.Reload()
		if err != nil {
			return nil, err
		}
		return info, nil
	}
}

// RPCAPIList is app_*.api_list: the KSR functions of the loaded modules,
// as Kamailio's {"msize": N, "methods": [{"ret","module","name","params"}]}.
func RPCAPIList(rt *Runtime, _ []Value) (any, error) {
	var ms []map[string]any
	for _, e := range rt.Reg.Exports() {
		params := ""
		for i, p := range e.Params {
			if i > 0 {
				params += ", "
			}
			params += p.String()
		}
		ms = append(ms, map[string]any{"ret": e.Returns.String(), "module": e.Module, "name": e.Name, "params": params})
	}
	return map[string]any{"msize": len(ms), "methods": ms}, nil
}

// RPCArgInt is args[i] as an integer, or an error naming the method and
// the argument.
func RPCArgInt(method string, args []Value, i int, what string) (int64, error) {
	if i >= len(args) {
		return 0, fmt.Errorf("%s: missing argument %d (%s)", method, i+1, what)
	}
	if args[i].Kind == KInt {
		return args[i].I, nil
	}
	if n, ok := IntArg(args[i].String()); ok {
		return n, nil
	}
	return 0, fmt.Errorf("%s: argument %d (%s): expected an integer, got %q", method, i+1, what, args[i].String())
}

// RPCArgStr is args[i] as a string, or an error naming the method and
// the argument.
func RPCArgStr(method string, args []Value, i int, what string) (string, error) {
	if i >= len(args) {
		return "", fmt.Errorf("%s: missing argument %d (%s)", method, i+1, what)
	}
	return args[i].String(), nil
}
