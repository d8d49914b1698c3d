// Package http_client implements module http_client: blocking HTTP
// requests from the script, their answer put in a pseudo-variable (see
// module.yaml). The client and its limits are kemi/internal/httpq.
package http_client

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kemi/core"
	"kemi/internal/httpq"
)

// module is one config's clients: the default one and the httpcon ones.
type module struct {
	def         *httpq.Client
	cons        map[string]*conn
	queryMax    int
	queryResult int
}

// conn is an httpcon connection.
type conn struct {
	base   string // the URL without user and password
	auth   string // Authorization header line, or ""
	client *httpq.Client
}

var mods = core.NewRuntimeState[module](nil)

func intParam(rt *core.Runtime, name string) (int, error) {
	v := rt.Param("http_client", name)
	if v.Kind == core.KStr {
		n, err := strconv.Atoi(strings.TrimSpace(v.S))
		if err != nil {
			return 0, fmt.Errorf("modparam http_client %s: expected a number, got %q", name, v.S)
		}
		return n, nil
	}
	return int(v.I), nil
}

// start reads the modparams and builds the clients.
func start(rt *core.Runtime) error {
	var opt httpq.Options
	var err error
	n, err := intParam(rt, "connection_timeout")
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("modparam http_client connection_timeout: expected seconds >= 0, got %d", n)
	}
	opt.Timeout = time.Duration(n) * time.Second
	if n, err = intParam(rt, "maxdatasize"); err != nil {
		return err
	}
	opt.MaxBody = int64(max(n, 0))
	if n, err = intParam(rt, "keep_connections"); err != nil {
		return err
	}
	opt.KeepConns = n != 0
	if n, err = intParam(rt, "httpredirect"); err != nil {
		return err
	}
	opt.Redirects = n != 0
	opt.UserAgent = rt.Param("http_client", "useragent").S
	if p := rt.Param("http_client", "httpproxy").S; p != "" {
		port, err := intParam(rt, "httpproxyport")
		if err != nil {
			return err
		}
		if u, err := url.Parse(p); err == nil && u.Port() == "" && port > 0 {
			p = strings.TrimSuffix(p, "/") + ":" + strconv.Itoa(port)
		}
		opt.Proxy = p
	}
	vp, err := intParam(rt, "verify_peer")
	if err != nil {
		return err
	}
	vh, err := intParam(rt, "verify_host")
	if err != nil {
		return err
	}
	if opt.TLS, err = httpq.TLSConfig(httpq.TLSOptions{
		CACert:     rt.Param("http_client", "cacert").S,
		ClientCert: rt.Param("http_client", "client_cert").S,
		ClientKey:  rt.Param("http_client", "client_key").S,
		VerifyPeer: vp != 0, VerifyHost: vh != 0,
	}); err != nil {
		return fmt.Errorf("modparam http_client: %w", err)
	}
	m := &module{cons: map[string]*conn{}}
	if m.def, err = httpq.New(opt); err != nil {
		return fmt.Errorf("modparam http_client: %w", err)
	}
	if m.queryMax, err = intParam(rt, "query_maxdatasize"); err != nil {
		return err
	}
	if m.queryResult, err = intParam(rt, "query_result"); err != nil {
		return err
	}
	for _, v := range rt.ParamValues("http_client", "httpcon") {
		if v.S == "" {
			continue
		}
		name, c, err := parseCon(v.S, opt)
		if err != nil {
			return fmt.Errorf("modparam http_client httpcon %q: %w", v.S, err)
		}
		m.cons[name] = c
	}
	mods.Set(rt, m)
	return nil
}

// parseCon reads "name=>http://user:pass@host/base;param=value...".
func parseCon(s string, opt httpq.Options) (string, *conn, error) {
	name, rest, ok := strings.Cut(s, "=>")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", nil, fmt.Errorf("expected name=>http://host/path")
	}
	parts := strings.Split(strings.TrimSpace(rest), ";")
	u, err := httpq.CheckURL(parts[0])
	if err != nil {
		return "", nil, err
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		num := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s: expected a number >= 0, got %q", k, val)
			}
			return n, nil
		}
		switch k {
		case "timeout":
			n, err := num()
			if err != nil {
				return "", nil, err
			}
			opt.Timeout = time.Duration(n) * time.Second
		case "maxdatasize":
			n, err := num()
			if err != nil {
				return "", nil, err
			}
			opt.MaxBody = int64(n)
		case "httpredirect":
			n, err := num()
			if err != nil {
				return "", nil, err
			}
			opt.Redirects = n != 0
		case "keep_connections":
			n, err := num()
			if err != nil {
				return "", nil, err
			}
			opt.KeepConns = n != 0
		case "useragent":
			opt.UserAgent = val
		case "":
		default:
			return "", nil, fmt.Errorf("unknown parameter %q (timeout, maxdatasize, httpredirect, keep_connections, useragent)", k)
		}
	}
	c := &conn{}
	if u.User != nil {
		pw, _ := u.User.Password()
		c.auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
		u.User = nil
	}
	c.base = u.String()
	if c.client, err = httpq.New(opt); err != nil {
		return "", nil, err
	}
	return name, c, nil
}

// stop drops the idle connections.
func stop(rt *core.Runtime) {
	if m := mods.Peek(rt); m != nil {
		m.def.Close()
		for _, c := range m.cons {
			c.client.Close()
		}
	}
}

func logErr(ctx *core.Ctx, fn, msg string) {
	ctx.Log(core.LErr, "http_client: "+fn+": "+msg+"\n")
}

// do runs r on client and stores the body in dpv as Kamailio does: for a
// 2xx, 3xx or 4xx only; the first line when first, cut at cut bytes when
// cut > 0 (query_maxdatasize, for query only).
func do(ctx *core.Ctx, fn string, client *httpq.Client, r httpq.Request, dpv string, first bool, cut int) int {
	name, arg, ok := core.SplitPV(dpv)
	set := core.LookupPVSetter(name)
	if !ok || set == nil {
		logErr(ctx, fn, core.LogQuote(dpv)+" is not a writable pseudo-variable")
		return -1
	}
	resp, err := client.Do(context.Background(), r)
	if err != nil {
		logErr(ctx, fn, core.LogQuote(r.URL)+": "+core.LogValue(err.Error()))
		return -1
	}
	if resp.Status < 500 {
		b := resp.Body
		if first {
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = bytes.TrimSuffix(b[:i], []byte("\r"))
			}
		}
		if cut > 0 && len(b) > cut {
			b = b[:cut]
		}
		if err := set(ctx, arg, core.Str(string(b))); err != nil {
			logErr(ctx, fn, err.Error())
			return -1
		}
	}
	return resp.Status
}

func get(ctx *core.Ctx, fn string) *module {
	m := mods.Peek(ctx.RT)
	if m == nil {
		logErr(ctx, fn, "module http_client is not started")
	}
	return m
}

// Query is query.
func Query(ctx *core.Ctx, u, dpv string) int { return QueryPostHdrs(ctx, u, "", "", dpv) }

// QueryPost is query_post.
func QueryPost(ctx *core.Ctx, u, post, dpv string) int { return QueryPostHdrs(ctx, u, post, "", dpv) }

// QueryPostHdrs is query_post_hdrs.
func QueryPostHdrs(ctx *core.Ctx, u, post, hdrs, dpv string) int {
	m := get(ctx, "query")
	if m == nil {
		return -1
	}
	r := httpq.Request{URL: u, Body: post, Hdrs: hdrs}
	if post != "" {
		r.Method = "POST"
		if !hasHeader(hdrs, "content-type") {
			r.Hdrs = joinHdrs(hdrs, "Content-Type: application/x-www-form-urlencoded")
		}
	}
	return do(ctx, "query", m.def, r, dpv, m.queryResult == 1, m.queryMax)
}

// GetHdrs is get_hdrs (http_client_get).
func GetHdrs(ctx *core.Ctx, u, body, hdrs, dpv string) int {
	m := get(ctx, "get_hdrs")
	if m == nil {
		return -1
	}
	return do(ctx, "get_hdrs", m.def, httpq.Request{URL: u, Body: body, Hdrs: hdrs}, dpv, false, 0)
}

// Connect is curl_connect.
func Connect(ctx *core.Ctx, con, u, dpv string) int {
	return connect(ctx, "curl_connect", con, u, "", "", dpv)
}

// ConnectPost is curl_connect_post.
func ConnectPost(ctx *core.Ctx, con, u, ctype, data, dpv string) int {
	return connect(ctx, "curl_connect_post", con, u, ctype, data, dpv)
}

func connect(ctx *core.Ctx, fn, con, u, ctype, data, dpv string) int {
	m := get(ctx, fn)
	if m == nil {
		return -1
	}
	c := m.cons[con]
	if c == nil {
		logErr(ctx, fn, "no connection "+core.LogQuote(con)+" (name it with modparam httpcon)")
		return -1
	}
	r := httpq.Request{URL: joinURL(c.base, u), Hdrs: c.auth}
	if data != "" {
		r.Method, r.Body = "POST", data
		if ctype != "" {
			if strings.ContainsAny(ctype, "\r\n") {
				logErr(ctx, fn, "the content type has a line break")
				return -1
			}
			r.Hdrs = joinHdrs(r.Hdrs, "Content-Type: "+ctype)
		}
	}
	return do(ctx, fn, c.client, r, dpv, false, 0)
}

func joinURL(base, u string) string {
	if u == "" {
		return base
	}
	if strings.HasSuffix(base, "/") && strings.HasPrefix(u, "/") {
		return base + u[1:]
	}
	if !strings.HasSuffix(base, "/") && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "?") {
		return base + "/" + u
	}
	return base + u
}

func joinHdrs(a, b string) string {
	if a == "" {
		return b
	}
	return strings.TrimRight(a, "\r\n") + "\r\n" + b
}

func hasHeader(hdrs, name string) bool {
	for _, line := range strings.Split(hdrs, "\n") {
		if n, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}
