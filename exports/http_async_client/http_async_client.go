// Package http_async_client implements module http_async_client: HTTP
// requests whose answer runs a script function later, suspending the
// request's transaction meanwhile (see module.yaml). The continuation
// runs through tm's Continue; the client is kemi/internal/httpq.
package http_async_client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/exports/tm"
	"kemi/internal/httpq"
)

type module struct {
	client   *httpq.Client
	inflight chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

var mods = core.NewRuntimeState[module](nil)

// defaultMaxBody caps an answer's body when maxdatasize is 0.
const defaultMaxBody = 128 << 10

// answer is what a callback reads.
type answer struct {
	ok     bool
	err    string
	status int
	reason string
	body   []byte
	hdr    http.Header
}

// msgState is the module's per-message state: the answer in a callback,
// the $http_req settings in the route that queries.
type msgState struct {
	ans       *answer
	method    string
	body      string
	hdrs      string
	timeout   time.Duration
	noSuspend bool
}

var msgStates = core.NewMsgState(func(*msgState) msgState { return msgState{} })

func intParam(rt *core.Runtime, name string) (int, error) {
	v := rt.Param("http_async_client", name)
	if v.Kind == core.KStr {
		n, err := strconv.Atoi(strings.TrimSpace(v.S))
		if err != nil {
			return 0, fmt.Errorf("modparam http_async_client %s: expected a number, got %q", name, v.S)
		}
		return n, nil
	}
	return int(v.I), nil
}

func start(rt *core.Runtime) error {
	var opt httpq.Options
	n, err := intParam(rt, "connection_timeout")
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("modparam http_async_client connection_timeout: expected milliseconds > 0, got %d", n)
	}
	opt.Timeout = time.Duration(n) * time.Millisecond
	if n, err = intParam(rt, "maxdatasize"); err != nil {
		return err
	}
	opt.MaxBody = int64(n)
	if n <= 0 {
		// Up to max_inflight answers are held at once: a smaller cap
		// than http_client's.
		opt.MaxBody = defaultMaxBody
	}
	if n, err = intParam(rt, "keep_connections"); err != nil {
		return err
	}
	opt.KeepConns = n != 0
	opt.UserAgent = "kemi http_async_client"
	inflight, err := intParam(rt, "max_inflight")
	if err != nil {
		return err
	}
	if inflight <= 0 {
		return fmt.Errorf("modparam http_async_client max_inflight: expected a number > 0, got %d", inflight)
	}
	vp, err := intParam(rt, "tls_verify_peer")
	if err != nil {
		return err
	}
	vh, err := intParam(rt, "tls_verify_host")
	if err != nil {
		return err
	}
	if opt.TLS, err = httpq.TLSConfig(httpq.TLSOptions{
		CAPath:     rt.Param("http_async_client", "tls_ca_path").S,
		ClientCert: rt.Param("http_async_client", "tls_client_cert").S,
		ClientKey:  rt.Param("http_async_client", "tls_client_key").S,
		VerifyPeer: vp != 0, VerifyHost: vh != 0,
	}); err != nil {
		return fmt.Errorf("modparam http_async_client: %w", err)
	}
	c, err := httpq.New(opt)
	if err != nil {
		return fmt.Errorf("modparam http_async_client: %w", err)
	}
	m := &module{client: c, inflight: make(chan struct{}, inflight)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	mods.Set(rt, m)
	return nil
}

// stop cancels the requests in flight and waits for their goroutines.
func stop(rt *core.Runtime) {
	if m := mods.Peek(rt); m != nil {
		m.cancel()
		m.wg.Wait()
		m.client.Close()
	}
}

func logErr(ctx *core.Ctx, msg string) {
	ctx.Log(core.LErr, "http_async_client: query: "+msg+"\n")
}

// Query is query.
func Query(ctx *core.Ctx, url, cbname string) int {
	if _, err := httpq.CheckURL(url); err != nil {
		logErr(ctx, core.LogQuote(url)+": "+core.LogValue(err.Error()))
		return -1
	}
	m := mods.Peek(ctx.RT)
	t := tm.Of(ctx.RT)
	if m == nil || t == nil {
		logErr(ctx, "modules http_async_client and tm must be loaded")
		return -1
	}
	st := msgStates.Get(ctx)
	req := httpq.Request{URL: url, Method: st.method, Body: st.body, Hdrs: st.hdrs, Timeout: st.timeout}
	noSuspend := st.noSuspend
	*st = msgState{ans: st.ans} // Kamailio clears $http_req after each query
	if cbname == "" {
		logErr(ctx, "expected a callback function name, got none")
		return -1
	}
	select {
	case m.inflight <- struct{}{}:
	default:
		logErr(ctx, fmt.Sprintf("%d requests are waiting for their answer already (max_inflight)", cap(m.inflight)))
		return -1
	}
	suspend := !noSuspend && tm.HasTransaction(ctx)
	var index, label uint32
	var det *tm.Detached
	if suspend {
		var ok bool
		if index, label, ok = tm.Suspend(ctx); !ok {
			<-m.inflight
			logErr(ctx, "the transaction could not be suspended")
			return -1
		}
	} else {
		det = tm.Capture(ctx)
	}
	rt := ctx.RT
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		a := &answer{}
		resp, err := m.client.Do(m.ctx, req)
		if err != nil {
			a.err = err.Error()
			if errors.Is(err, context.DeadlineExceeded) {
				a.err = "timeout: " + a.err
			}
		} else {
			a.ok, a.status, a.reason, a.body, a.hdr = true, resp.Status, resp.Reason, resp.Body, resp.Header
		}
		// The request keeps its max_inflight slot until its callback
		// starts (or its job ends without one): answers waiting for the
		// continuation goroutine count too, so at most max_inflight
		// bodies are held at once.
		var once sync.Once
		release := func() { once.Do(func() { <-m.inflight }) }
		prep := func(c *core.Ctx) {
			msgStates.Get(c).ans = a
			release()
		}
		if suspend {
			err = t.Continue(index, label, cbname, prep, release)
		} else {
			err = t.RunDetached(det, cbname, prep, release)
		}
		if err != nil {
			release()
			if rt.Log != nil {
				rt.Log.Log(core.LErr, nil, "http_async_client: the answer from "+core.LogQuote(url)+" found no way to "+cbname+": "+err.Error())
			}
		}
	}()
	if suspend {
		return 0
	}
	return 1
}

func ans(ctx *core.Ctx) *answer { return msgStates.Get(ctx).ans }

func pvOK(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil {
		return dst, false
	}
	if a.ok {
		return append(dst, '1'), true
	}
	return append(dst, '0'), true
}

func pvErr(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil {
		return dst, false
	}
	return append(dst, a.err...), true
}

func pvRS(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil || !a.ok {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(a.status), 10), true
}

func pvRR(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil || !a.ok {
		return dst, false
	}
	return append(dst, a.reason...), true
}

func pvRB(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil || !a.ok {
		return dst, false
	}
	return append(dst, a.body...), true
}

func pvBS(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil || !a.ok {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(len(a.body)), 10), true
}

func pvHdr(ctx *core.Ctx, name string, dst []byte) ([]byte, bool) {
	a := ans(ctx)
	if a == nil || !a.ok || a.hdr == nil {
		return dst, false
	}
	vs := a.hdr.Values(name)
	if len(vs) == 0 {
		return dst, false
	}
	return append(dst, vs[0]...), true
}

func pvReq(ctx *core.Ctx, key string, dst []byte) ([]byte, bool) {
	st := msgStates.Get(ctx)
	switch key {
	case "method":
		return append(dst, st.method...), st.method != ""
	case "body":
		return append(dst, st.body...), st.body != ""
	case "hdr":
		return append(dst, st.hdrs...), st.hdrs != ""
	case "timeout":
		return strconv.AppendInt(dst, st.timeout.Milliseconds(), 10), st.timeout > 0
	}
	return dst, false
}

func setReq(ctx *core.Ctx, key string, v core.Value) error {
	st := msgStates.Get(ctx)
	s := v.S
	if v.Kind == core.KInt {
		s = strconv.FormatInt(v.I, 10)
	}
	null := v.Kind == core.KNull
	switch key {
	case "all":
		*st = msgState{ans: st.ans}
	case "method":
		st.method = s
	case "body":
		st.body = s
	case "hdr":
		if null {
			st.hdrs = ""
			return nil
		}
		if strings.ContainsAny(s, "\r\n\x00") {
			return fmt.Errorf("$http_req(hdr): expected one header line, got a line break")
		}
		if st.hdrs != "" {
			st.hdrs += "\r\n"
		}
		st.hdrs += s
	case "timeout":
		if null {
			st.timeout = 0
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("$http_req(timeout): expected milliseconds, got %q", s)
		}
		st.timeout = time.Duration(n) * time.Millisecond
	case "suspend":
		st.noSuspend = s == "0"
	default:
		return fmt.Errorf("$http_req(%s): expected all, method, body, hdr, timeout or suspend", key)
	}
	return nil
}
