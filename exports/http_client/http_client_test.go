package http_client

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
	"kemi/sip"
)

func newCtx(t *testing.T, params map[string]core.Value, multi map[string][]core.Value) *core.Ctx {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("http_client"), core.Known("pv"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"http_client": {}}, Log: &core.Logger{Level: core.LErr, Out: testWriter{t}}}
	for k, v := range params {
		rt.Params["http_client"][k] = []core.Value{v}
	}
	for k, vs := range multi {
		rt.Params["http_client"][k] = vs
	}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(rt) })
	m := new(sip.Msg)
	if err := m.Parse(ksrtest.Invite()); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	return ctx
}

func varOf(ctx *core.Ctx, name string) string {
	v := pv.Gete(ctx, "$var("+name+")")
	return v.S
}

// TestHTTPClient_ResultsAsKamailio: query stores the first line
// (query_result 1) or the whole body (0), cut at query_maxdatasize; a 5xx
// returns its code and leaves the variable alone; get_hdrs sends its
// headers and stores the whole body; curl_connect joins the httpcon base
// and sends its credentials; a name that is not a writable variable is
// -1.
func TestHTTPClient_ResultsAsKamailio(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/lines":
			w.Write([]byte("first\nsecond\n"))
		case "/fail":
			w.WriteHeader(503)
			w.Write([]byte("down"))
		case "/hdrs":
			w.Write([]byte(r.Header.Get("X-Token") + "|" + r.Method + "\nmore"))
		case "/api/v1/who":
			u, p, _ := r.BasicAuth()
			w.Write([]byte(u + ":" + p + " " + r.Header.Get("Content-Type")))
		}
	}))
	defer srv.Close()

	ctx := newCtx(t, nil, nil)
	if rc := Query(ctx, srv.URL+"/lines", "$var(r)"); rc != 200 || varOf(ctx, "r") != "first" {
		t.Errorf("query: rc %d r %q, want 200 and the first line", rc, varOf(ctx, "r"))
	}
	pv.Sets(ctx, "$var(r)", "untouched")
	if rc := Query(ctx, srv.URL+"/fail", "$var(r)"); rc != 503 || varOf(ctx, "r") != "untouched" {
		t.Errorf("query of a 503: rc %d r %q, want 503 and the variable left alone", rc, varOf(ctx, "r"))
	}
	if rc := GetHdrs(ctx, srv.URL+"/hdrs", "", "X-Token: abc", "$var(h)"); rc != 200 || varOf(ctx, "h") != "abc|GET\nmore" {
		t.Errorf("get_hdrs: rc %d h %q", rc, varOf(ctx, "h"))
	}
	if rc := Query(ctx, srv.URL+"/lines", "$ru(x"); rc != -1 {
		t.Errorf("a result that is not a writable variable: rc %d, want -1", rc)
	}

	ctx = newCtx(t, map[string]core.Value{"query_result": core.Int(0), "query_maxdatasize": core.Int(8)},
		map[string][]core.Value{"httpcon": {core.Str("api=>http://bob:secret@" + strings.TrimPrefix(srv.URL, "http://") + "/api;timeout=2")}})
	if rc := Query(ctx, srv.URL+"/lines", "$var(r)"); rc != 200 || varOf(ctx, "r") != "first\nse" {
		t.Errorf("query_result 0, query_maxdatasize 8: rc %d r %q", rc, varOf(ctx, "r"))
	}
	if rc := ConnectPost(ctx, "api", "v1/who", "application/json", `{"a":1}`, "$var(c)"); rc != 200 || varOf(ctx, "c") != "bob:secret application/json" {
		t.Errorf("curl_connect_post: rc %d c %q", rc, varOf(ctx, "c"))
	}
	if rc := Connect(ctx, "nosuch", "/x", "$var(c)"); rc != -1 {
		t.Errorf("an unknown connection: rc %d, want -1", rc)
	}
	if rc := ConnectPost(ctx, "api", "v1/who", "text/plain\r\nX-Injected: 1", "x", "$var(c)"); rc != -1 {
		t.Errorf("a content type with CRLF: rc %d, want -1", rc)
	}
}

// TestHTTPClient_BadParams: config errors name the param.
func TestHTTPClient_BadParams(t *testing.T) {
	reg, err := core.NewRegistry(core.Known("http_client"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    core.Value
		want string
	}{
		{"httpcon", core.Str("nourl"), "httpcon"},
		{"httpcon", core.Str("x=>ftp://h/"), "only http and https"},
		{"httpcon", core.Str("x=>http://h/;bogus=1"), "unknown parameter"},
		{"httpproxy", core.Str("socks5://h:1"), "httpproxy"},
		{"connection_timeout", core.Int(-1), "connection_timeout"},
	} {
		rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"http_client": {c.name: {c.v}}}}
		if err := start(rt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%v: got %v, want an error naming %q", c.name, c.v, err, c.want)
		}
	}
}

// TestHTTPClient_TLSVerification: an https server whose CA is not known
// is refused (-1); with cacert naming it, or verify_peer 0, it answers.
func TestHTTPClient_TLSVerification(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secure")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if rc := Query(newCtx(t, nil, nil), srv.URL, "$var(r)"); rc != -1 {
		t.Errorf("unknown CA: rc %d, want -1", rc)
	}
	if rc := Query(newCtx(t, map[string]core.Value{"verify_host": core.Int(0)}, nil), srv.URL, "$var(r)"); rc != -1 {
		t.Errorf("verify_host 0 still verifies the chain: rc %d, want -1", rc)
	}
	for name, params := range map[string]map[string]core.Value{
		"cacert":        {"cacert": core.Str(ca)},
		"verify_peer 0": {"verify_peer": core.Int(0)},
		"verify_host 0": {"cacert": core.Str(ca), "verify_host": core.Int(0)},
	} {
		ctx := newCtx(t, params, nil)
		if rc := Query(ctx, srv.URL, "$var(r)"); rc != 200 || varOf(ctx, "r") != "secure" {
			t.Errorf("%s: rc %d r %q", name, rc, varOf(ctx, "r"))
		}
	}
}

// testWriter sends the module's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
