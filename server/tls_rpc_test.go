package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core/loader"
	"kemi/server"
)

// cgetNames are the attributes TestIssue13_TLSCget asks for, in order.
const cgetNames = "tls_version tls_peer_subject_cn tls_peer_subject tls_peer_issuer_cn tls_peer_verified tls_peer_selfsigned tls_peer_expired tls_peer_version tls_cipher_bits tls_peer_server_name tls_my_subject no_such"

// TestIssue13_TLSCget (issue 13 item 1, tls.cget): KSR.tls.cget(name)
// returns the $tls_* attribute of the message's TLS connection in Lua,
// JavaScript and Starlark: strings for names, integers for verified,
// selfsigned, expired, the certificate version and cipher bits; "" over
// TCP, for the local certificate kemi cannot see, and for an unknown
// name (a warning names it), as Kamailio's ki_tls_cget.
func TestIssue13_TLSCget(t *testing.T) {
	engines := []struct{ module, engine, file, script string }{
		{"app_lua", "lua", "s.lua", `
function ksr_request_route()
	local out = {}
	for n in string.gmatch("` + cgetNames + `", "%S+") do
		local v = KSR.tls.cget(n)
		table.insert(out, type(v) .. ":" .. tostring(v))
	end
	KSR.sl.sl_send_reply(200, table.concat(out, "|"))
end
`},
		{"app_jsdt", "jsdt", "s.js", `
function ksr_request_route() {
	var out = [];
	"` + cgetNames + `".split(" ").forEach(function (n) {
		var v = KSR.tls.cget(n);
		out.push((typeof v == "number" ? "number" : typeof v) + ":" + v);
	});
	KSR.sl.sl_send_reply(200, out.join("|"));
}
`},
		{"app_starlark", "starlark", "s.star", `
def ksr_request_route():
    out = []
    for n in "` + cgetNames + `".split(" "):
        v = KSR.tls.cget(n)
        out.append({"int": "number", "string": "string"}[type(v)] + ":" + str(v))
    KSR.sl.sl_send_reply(200, "|".join(out))
`},
	}
	for _, e := range engines {
		t.Run(e.engine, func(t *testing.T) {
			dir := t.TempDir()
			srvCert, srvKey, _ := selfSigned(t, dir, "kemi.test")
			cliCert, _, cliPair := selfSigned(t, dir, "client.test")
			os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\ncertificate = "+filepath.Base(srvCert)+
				"\nprivate_key = "+filepath.Base(srvKey)+"\nca_list = "+filepath.Base(cliCert)+
				"\nverify_certificate = yes\nrequire_certificate = no\n"), 0o600)
			cfg := "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nenable_tls=yes\nloadmodule \"sl.so\"\nloadmodule \"tls.so\"\nloadmodule \"" + e.module + ".so\"\n" +
				"modparam(\"tls\", \"config\", \"tls.cfg\")\nmodparam(\"" + e.module + "\", \"load\", \"" + e.file + "\")\ncfgengine \"" + e.engine + "\"\n"
			os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(cfg), 0o600)
			os.WriteFile(filepath.Join(dir, e.file), []byte(e.script), 0o600)
			tport := freeTCP(t, "tcp4", "127.0.0.1:0")
			cport := freeTCP(t, "tcp4", "127.0.0.1:0")
			logs := &syncBuf{}
			startServer(t, server.Options{Version: "test", Options: loader.Options{
				Path: filepath.Join(dir, "kamailio.cfg"), LogOut: logs,
				Listens: []string{"tls:127.0.0.1:" + strconv.Itoa(tport), "tcp:127.0.0.1:" + strconv.Itoa(cport)},
			}})
			pool := x509.NewCertPool()
			pemb, _ := os.ReadFile(srvCert)
			pool.AppendCertsFromPEM(pemb)
			ask := func(c net.Conn, proto string) string {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write(streamOptions(proto, "cget-"+proto))
				line, _, _ := strings.Cut(readReply(t, c, bufio.NewReader(c)), "\r\n")
				return line
			}
			tc, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tport), &tls.Config{RootCAs: pool, ServerName: "kemi.test",
				Certificates: []tls.Certificate{cliPair}, MinVersion: tls.VersionTLS13})
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			want := "SIP/2.0 200 string:TLSv1.3|string:client.test|string:/CN=client.test|string:client.test|number:1|number:1|number:0|number:2|number:128|string:kemi.test|string:|string:"
			if got := ask(tc, "TLS"); got != want {
				t.Errorf("over TLS:\n got %q\nwant %q", got, want)
			}
			pc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(cport))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			wantTCP := "SIP/2.0 200 " + strings.TrimSuffix(strings.Repeat("string:|", 12), "|")
			if got := ask(pc, "TCP"); got != wantTCP {
				t.Errorf("over TCP:\n got %q\nwant %q", got, wantTCP)
			}
			if !strings.Contains(logs.String(), `tls.cget: unknown attribute "no_such"`) {
				t.Errorf("no warning naming the unknown attribute in the log:\n%s", logs.String())
			}
		})
	}
}

// TestIssue13_TLSRPC (issue 13 item 1, tls.reload/tls.list/tls.info):
// the RPC methods declared by the tls module reach the server: tls.list
// shows an open TLS connection with its peer address and cipher,
// tls.info counts it, tls.reload makes new handshakes present a replaced
// certificate and refuses a broken one with an error naming tls.reload.
func TestIssue13_TLSRPC(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, _ := selfSigned(t, dir, "old.test")
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\ncertificate = "+filepath.Base(certPath)+"\nprivate_key = "+filepath.Base(keyPath)+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(streamCfg("enable_tls=yes\n", "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"tls.cfg\")\n")), 0o600)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(streamScript), 0o600)
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: filepath.Join(dir, "kamailio.cfg"), LogOut: &syncBuf{}, Listens: []string{"tls:" + addr},
	}})
	rpc := func(method string) (json.RawMessage, string) {
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(s.RPC().Handle([]byte(`{"jsonrpc":"2.0","method":"`+method+`","id":1}`)), &r); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if r.Error != nil {
			return nil, r.Error.Message
		}
		return r.Result, ""
	}
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	defer c.Close()
	c.Write(streamOptions("TLS", "rpc-1"))
	readReply(t, c, bufio.NewReader(c))

	res, e := rpc("tls.list")
	if e != "" {
		t.Fatalf("tls.list: %s", e)
	}
	var list []map[string]any
	json.Unmarshal(res, &list)
	if len(list) != 1 || list[0]["src_port"] != float64(c.LocalAddr().(*net.TCPAddr).Port) ||
		list[0]["dst_port"] != float64(port) || list[0]["cipher"] != tls.CipherSuiteName(c.ConnectionState().CipherSuite) ||
		list[0]["flags"] != "in" || list[0]["state"] != "established" {
		t.Errorf("tls.list: %s", res)
	}
	res, e = rpc("tls.info")
	var info map[string]any
	json.Unmarshal(res, &info)
	if e != "" || info["opened_connections"] != float64(1) || info["max_connections"].(float64) < 1 {
		t.Errorf("tls.info: %s %s", res, e)
	}

	sub := t.TempDir()
	newCert, newKey, _ := selfSigned(t, sub, "new.test")
	for from, to := range map[string]string{newCert: certPath, newKey: keyPath} {
		b, _ := os.ReadFile(from)
		os.WriteFile(to, b, 0o600)
	}
	if _, e := rpc("tls.reload"); e != "" {
		t.Fatalf("tls.reload: %s", e)
	}
	c2 := dial()
	if cn := c2.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "new.test" {
		t.Errorf("after tls.reload: %q, want new.test", cn)
	}
	c2.Close()
	os.WriteFile(certPath, []byte("garbage"), 0o600)
	if _, e := rpc("tls.reload"); !strings.Contains(e, "tls.reload") {
		t.Errorf("tls.reload of a broken certificate: %q, want an error naming tls.reload", e)
	}
}
