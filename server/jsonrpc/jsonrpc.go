// Package jsonrpc is kemi's control interface: JSON-RPC 2.0 as Kamailio's
// jsonrpcs module speaks it (positional params, or an object whose values
// are taken in order), over a Unix datagram socket (dgram_socket) and a
// FIFO (fifo_name). Methods come from the modules' specs (rpc: in
// module.yaml) and from the server (core.*, system.*, stats.*, cfg.*).
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"kemi/core"
)

// MaxRequest bounds a request document: a larger datagram or FIFO line is
// refused with a parse error, never read whole.
const MaxRequest = 64 << 10

// JSON-RPC error codes, as jsonrpcs sends them.
const (
	CodeParse          = -32700
	CodeInvalidRequest = -32600
	CodeNoMethod       = -32601
	CodeInvalidParams  = -32602
	CodeFault          = 500 // a method's own error, as Kamailio's rpc->fault(c, 500, ...)
)

// Error is a method's failure with its JSON-RPC code.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf is a method failure with a code (CodeInvalidParams for bad
// arguments).
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Method is one RPC command.
type Method struct {
	Name string
	Doc  string
	Call core.RPCFunc
}

// Methods is the registry of RPC commands. It is safe for concurrent use.
type Methods struct {
	rt *core.Runtime
	mu sync.RWMutex
	m  map[string]*Method
}

// New builds a registry with every RPC the runtime's modules declare.
func New(rt *core.Runtime) *Methods {
	ms := &Methods{rt: rt, m: map[string]*Method{}}
	if rt != nil && rt.Reg != nil {
		for _, mod := range rt.Reg.Modules() {
			for _, r := range mod.RPCs {
				ms.Add(r.Name, r.Doc, r.Call)
			}
		}
	}
	ms.Add("system.listMethods", "List the RPC methods.", func(*core.Runtime, []core.Value) (any, error) {
		return ms.Names(), nil
	})
	ms.Add("system.methodHelp", "Print the help of an RPC method: system.methodHelp NAME.", func(_ *core.Runtime, args []core.Value) (any, error) {
		if len(args) != 1 {
			return nil, Errorf(CodeInvalidParams, "system.methodHelp: expected 1 argument (a method name), got %d", len(args))
		}
		m := ms.Lookup(args[0].String())
		if m == nil {
			return nil, Errorf(CodeFault, "system.methodHelp: no such method %q", args[0].String())
		}
		return m.Doc, nil
	})
	return ms
}

// Add registers (or replaces) a method.
func (ms *Methods) Add(name, doc string, call core.RPCFunc) {
	ms.mu.Lock()
	ms.m[name] = &Method{Name: name, Doc: doc, Call: call}
	ms.mu.Unlock()
}

// Lookup finds a method by name.
func (ms *Methods) Lookup(name string) *Method {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	return ms.m[name]
}

// Names are the methods' names, sorted.
func (ms *Methods) Names() []string {
	ms.mu.RLock()
	out := make([]string, 0, len(ms.m))
	for n := range ms.m {
		out = append(out, n)
	}
	ms.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Request is a decoded JSON-RPC request.
type Request struct {
	Method    string
	Params    []core.Value
	ID        json.RawMessage // nil for a notification
	ReplyName string          // the FIFO transport's reply_name
}

// Decode parses one JSON-RPC 2.0 request. Params are an array, or an
// object whose values are taken in document order (names do not matter,
// as in jsonrpcs); strings become Str, integral numbers Int, other
// scalars their JSON text.
func Decode(b []byte) (*Request, *Error) {
	if len(b) > MaxRequest {
		return nil, &Error{CodeParse, fmt.Sprintf("Parse Error: request of %d bytes is over the limit of %d", len(b), MaxRequest)}
	}
	var raw struct {
		JSONRPC   string          `json:"jsonrpc"`
		Method    *string         `json:"method"`
		Params    json.RawMessage `json:"params"`
		ID        json.RawMessage `json:"id"`
		ReplyName string          `json:"reply_name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &Error{CodeParse, "Parse Error: " + err.Error()}
	}
	req := &Request{ID: raw.ID, ReplyName: raw.ReplyName}
	if raw.Method == nil || *raw.Method == "" {
		return req, &Error{CodeInvalidRequest, "Invalid Request: no method"}
	}
	req.Method = *raw.Method
	p := bytes.TrimSpace(raw.Params)
	if len(p) == 0 || string(p) == "null" {
		return req, nil
	}
	params, err := decodeParams(p)
	if err != nil {
		return req, &Error{CodeInvalidParams, "Invalid Params: " + err.Error()}
	}
	req.Params = params
	return req, nil
}

func decodeParams(p []byte) ([]core.Value, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := t.(json.Delim)
	if !ok || (delim != '[' && delim != '{') {
		return nil, errors.New("params must be an array or an object")
	}
	var out []core.Value
	for d.More() {
		if delim == '{' {
			if _, err := d.Token(); err != nil { // the name, ignored
				return nil, err
			}
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, jsonValue(v))
		if len(out) > 64 {
			return nil, errors.New("more than 64 params")
		}
	}
	return out, nil
}

func jsonValue(v json.RawMessage) core.Value {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return core.Null()
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return core.Str(s)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if i, ok := core.IntArg(string(v)); ok {
			return core.Int(i)
		}
	}
	return core.Str(string(v))
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

// Handle runs one request document and returns the response document, or
// nil for a notification (no id). A method that panics answers an error;
// nothing a client sends takes the server down.
func (ms *Methods) Handle(b []byte) []byte {
	out, _ := ms.handle(b)
	return out
}

func (ms *Methods) handle(b []byte) (out []byte, req *Request) {
	req, jerr := Decode(b)
	id := json.RawMessage("null")
	if req != nil && req.ID != nil {
		id = req.ID
	}
	resp := response{JSONRPC: "2.0", ID: id}
	if jerr != nil {
		resp.Error = jerr
		return encode(resp), req
	}
	if req.ID == nil {
		defer func() { out = nil }()
	}
	m := ms.Lookup(req.Method)
	if m == nil {
		resp.Error = &Error{CodeNoMethod, "Method Not Found"}
		return encode(resp), req
	}
	res, err := ms.call(m, req.Params)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{CodeFault, err.Error()}
		}
		resp.Error = e
		return encode(resp), req
	}
	if res == nil {
		res = struct{}{}
	}
	resp.Result = res
	return encode(resp), req
}

func (ms *Methods) call(m *Method, args []core.Value) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{CodeFault, fmt.Sprintf("%s: internal error: %v", m.Name, p)}
		}
	}()
	return m.Call(ms.rt, args)
}

func encode(r response) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(response{JSONRPC: "2.0", ID: r.ID, Error: &Error{CodeFault, "encoding the result: " + err.Error()}})
	}
	return append(b, '\n')
}

// ArgInt is args[i] as an integer, or an invalid-params error naming the
// method and argument.
func ArgInt(method string, args []core.Value, i int, what string) (int64, error) {
	if i >= len(args) {
		return 0, Errorf(CodeInvalidParams, "%s: missing argument %d (%s)", method, i+1, what)
	}
	switch args[i].Kind {
	case core.KInt:
		return args[i].I, nil
	case core.KStr:
		if n, ok := core.IntArg(strings.TrimSpace(args[i].S)); ok {
			return n, nil
		}
	}
	return 0, Errorf(CodeInvalidParams, "%s: argument %d (%s): expected an integer, got %q", method, i+1, what, args[i].String())
}

// ArgStr is args[i] as a string, or an invalid-params error.
func ArgStr(method string, args []core.Value, i int, what string) (string, error) {
	if i >= len(args) {
		return "", Errorf(CodeInvalidParams, "%s: missing argument %d (%s)", method, i+1, what)
	}
	return args[i].String(), nil
}
