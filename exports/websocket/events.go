package websocket

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"kemi/core"
	"kemi/sip/transport"
)

// closedEvent is the message the websocket:closed callback sees, as
// Kamailio gives its event routes a fake request.
const closedEvent = "OPTIONS sip:you@kemi.invalid SIP/2.0\r\nVia: SIP/2.0/WS 127.0.0.1;branch=z9hG4bKws.closed\r\nFrom: <sip:you@kemi.invalid>;tag=ws\r\nTo: <sip:you@kemi.invalid>\r\nCall-ID: websocket-closed\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

// closed is the transport's OnClose: the connection leaves the list and
// the event callback runs for it.
func (m *module) closed(c *transport.Conn) {
	m.mu.Lock()
	delete(m.conns, c.ID())
	m.mu.Unlock()
	if m.eventCB == "" || m.rt.NewVM == nil {
		return
	}
	m.evMu.Lock()
	defer m.evMu.Unlock()
	rt := m.rt
	if gen := vmGen(rt); m.evVM == nil || gen != m.evGen {
		if m.evVM != nil {
			m.evVM.Close()
		}
		vm, err := rt.NewVM()
		if err != nil {
			rt.Log.Log(core.LErr, nil, "websocket: building a VM for event_callback: "+err.Error())
			m.evVM = nil
			return
		}
		m.evVM, m.evGen = vm, gen
	}
	if m.evMsg.Parse([]byte(closedEvent)) != nil {
		return
	}
	ctx := &m.evCtx
	ctx.Reset(&m.evMsg, c.RemoteAddr(), c.LocalAddr(), proto(c))
	ctx.RT, ctx.VM, ctx.Route, ctx.ConnID, ctx.Out = rt, m.evVM, core.EventRoute, c.ID(), rtOut{rt}
	conids.Get(ctx).id = c.ID()
	var err error
	if ac, ok := m.evVM.(core.ArgCaller); ok {
		err = ac.CallArg(ctx, m.eventCB, "websocket:closed")
	} else {
		err = m.evVM.Call(ctx, m.eventCB)
	}
	if err != nil && !errors.Is(err, core.ErrNoCallback) {
		rt.Log.Log(core.LErr, nil, fmt.Sprintf("websocket: event_callback %s(\"websocket:closed\") for connection %d: %s", m.eventCB, c.ID(), err))
	}
}

// rtOut sends what the event callback sends through the server's
// senders (there is no worker).
type rtOut struct{ rt *core.Runtime }

func (o rtOut) SendTo(b []byte, p core.Proto, to netip.AddrPort) error {
	if o.rt.Send == nil {
		return errors.New("websocket: no sender")
	}
	return o.rt.Send(b, p, to)
}

func vmGen(rt *core.Runtime) uint64 {
	if rt.VMGen == nil {
		return 0
	}
	return rt.VMGen()
}

func proto(c *transport.Conn) core.Proto {
	if c.Proto() == transport.WSS {
		return core.WSS
	}
	return core.WS
}

// conids holds $ws_conid for the event callback's message.
type conid struct{ id uint64 }

var conids = core.NewMsgState(func(*conid) conid { return conid{} })

func getConid(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	id := conids.Get(ctx).id
	if id == 0 {
		return dst, false
	}
	return strconv.AppendUint(dst, id, 10), true
}

func rpcModule(rt *core.Runtime, method string) (*module, error) {
	m := modules.Peek(rt)
	if m == nil {
		return nil, errors.New(method + ": the websocket module is not started")
	}
	return m, nil
}

// rpcConn is the open WebSocket connection args[0] names.
func rpcConn(rt *core.Runtime, method string, args []core.Value) (*transport.Conn, error) {
	m, err := rpcModule(rt, method)
	if err != nil {
		return nil, err
	}
	id, err := core.RPCArgInt(method, args, 0, "connection id")
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	c := m.conns[uint64(id)]
	m.mu.Unlock()
	if c == nil || c.Closed() {
		return nil, fmt.Errorf("%s: no open WebSocket connection %d", method, id)
	}
	return c, nil
}

func rpcDump(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := rpcModule(rt, "ws.dump")
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	cs := make([]*transport.Conn, 0, len(m.conns))
	for _, c := range m.conns {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID() < cs[j].ID() })
	total := len(cs)
	if len(cs) > 50 {
		cs = cs[:50]
	}
	out := make([]map[string]any, 0, len(cs))
	now := time.Now()
	for _, c := range cs {
		out = append(out, map[string]any{
			"id": c.ID(), "proto": c.Proto().String(), "src": c.RemoteAddr().String(), "dst": c.LocalAddr().String(),
			"last_used": int64(now.Sub(c.LastIO()).Seconds()),
		})
	}
	return map[string]any{"connections": out, "info": map[string]any{"wscounter": total, "truncated": total > len(cs)}}, nil
}

func rpcClose(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcConn(rt, "ws.close", args)
	if err != nil {
		return nil, err
	}
	c.CloseWS(1000, "Normal closure")
	return nil, nil
}

func rpcPing(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcConn(rt, "ws.ping", args)
	if err != nil {
		return nil, err
	}
	return nil, c.PingWS(modules.Peek(rt).opt.PingData)
}

func rpcPong(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcConn(rt, "ws.pong", args)
	if err != nil {
		return nil, err
	}
	return nil, c.PongWS(modules.Peek(rt).opt.PingData)
}

func rpcDisable(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := rpcModule(rt, "ws.disable")
	if err != nil {
		return nil, err
	}
	m.disabled.Store(true)
	return nil, nil
}

func rpcEnable(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := rpcModule(rt, "ws.enable")
	if err != nil {
		return nil, err
	}
	m.disabled.Store(false)
	return nil, nil
}
