package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPAsync_SlowServiceDoesNotStallWorkers is issue 14's "not
// stalling workers": kemi with two workers routes INVITEs by asking an
// HTTP service that takes 2 s. Six INVITEs wait on it at once (more than
// there are workers) with their transactions suspended, while sipp sends
// OPTIONS that the script answers at once: every OPTIONS is answered
// (sipp counts 0 failures) well before the service answers, and then
// every INVITE gets the service's answer. An INVITE whose service is down
// takes the script's error branch (503). In every engine.
func TestHTTPAsync_SlowServiceDoesNotStallWorkers(t *testing.T) {
	needSipp(t)
	var asked sync.WaitGroup
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			asked.Done()
			time.Sleep(2 * time.Second)
		}
		w.Write([]byte("sip:gw@127.0.0.1:5099"))
	}))
	defer svc.Close()
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close()

	for _, e := range []struct{ name, ext, engine, mod string }{
		{"lua", "lua", "lua", "app_lua"},
		{"js", "js", "jsdt", "app_jsdt"},
		{"starlark", "star", "starlark", "app_starlark"},
	} {
		t.Run(e.name, func(t *testing.T) {
			dir := t.TempDir()
			src, err := os.ReadFile(filepath.Join("testdata/httpasync", "route."+e.ext))
			if err != nil {
				t.Fatal(err)
			}
			script := strings.NewReplacer("{HTTP}", strings.TrimPrefix(svc.URL, "http://"), "{DOWN}", downAddr).Replace(string(src))
			if err := os.WriteFile(filepath.Join(dir, "route."+e.ext), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nchildren=2\n" +
				"loadmodule \"tm.so\"\nloadmodule \"tmx.so\"\nloadmodule \"sl.so\"\nloadmodule \"pv.so\"\nloadmodule \"kemix.so\"\n" +
				"loadmodule \"http_async_client.so\"\nloadmodule \"" + e.mod + ".so\"\n" +
				"modparam(\"http_async_client\", \"connection_timeout\", 3000)\n" +
				"modparam(\"" + e.mod + "\", \"load\", \"route." + e.ext + "\")\n" +
				"cfgengine \"" + e.engine + "\"\n"
			cfgPath := filepath.Join(dir, "kemi.cfg")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			s := startKemi(t, cfgPath)

			const waiting = 6
			asked.Add(waiting)
			finals := make(chan string, waiting)
			start := time.Now()
			for i := 0; i < waiting; i++ {
				go func() { finals <- rawInvite(t, s.addr, "slow", 70) }()
			}
			asked.Wait() // all six are with the service now
			s.sipp(t, optionsScenario(t, 70, 200, "Alive"), 2000, 50)
			took := time.Since(start)
			if took >= 2*time.Second {
				t.Errorf("2000 OPTIONS took until %v after the INVITEs, want them all answered before the 2 s service answers", took)
			}
			t.Logf("2000 OPTIONS answered %v after %d INVITEs suspended on a 2 s HTTP service, children=2", took.Round(time.Millisecond), waiting)
			for i := 0; i < waiting; i++ {
				select {
				case got := <-finals:
					if got != "SIP/2.0 480 Routed to sip:gw@127.0.0.1:5099" {
						t.Errorf("INVITE waiting on the service: got %q", got)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("an INVITE got no final reply within 10 s")
				}
			}
			// The service is down: the callback's error branch answers.
			if got := rawInvite(t, s.addr, "down", 70); got != "SIP/2.0 503 Routing service down" {
				t.Errorf("INVITE while the service is down: got %q, want the script's 503", got)
			}
			if !logShows(s, "routing service: ") || !logShows(s, "connection refused") {
				t.Errorf("the callback did not log $http_err")
			}
		})
	}
}
