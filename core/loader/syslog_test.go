package loader_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"kemi/core"
	"kemi/core/loader"
)

// TestOps_LogStderrorNoWritesSyslog (issue 15, logs): log_stderror=no
// sends the log to syslog (a unix datagram socket of the test's own
// standing in for /dev/log) with log_facility and log_name, each line at
// its level's severity; log_format json goes the same way; a bad
// facility or format is a load error.
func TestOps_LogStderrorNoWritesSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	loader.SyslogPath = path
	defer func() { loader.SyslogPath = "" }()
	syslog := true
	load := func(lines string) (*loader.Setup, error) {
		fsys := fstest.MapFS{
			"kamailio.cfg": {Data: []byte("#!KAMAILIO\n" + lines + "\nloadmodule \"sl.so\"\nloadmodule \"app_lua.so\"\n" +
				"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n")},
			"s.lua": {Data: []byte("function ksr_request_route() end\n")},
		}
		return loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, Syslog: syslog})
	}
	read := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := ln.ReadFrom(buf)
		if err != nil {
			t.Fatalf("nothing on the syslog socket: %v", err)
		}
		return string(buf[:n])
	}
	s, err := load("debug=2\nlog_stderror=no\nlog_facility=LOG_LOCAL3\nlog_name=\"kemi-test\"")
	if err != nil {
		t.Fatal(err)
	}
	s.RT.Log.Log(core.LErr, nil, "tm: something failed")
	// <PRI> is facility*8+severity: LOG_LOCAL3 is 19, LOG_ERR 3.
	if got := read(); !strings.HasPrefix(got, "<155>") || !strings.Contains(got, " kemi-test[") ||
		!strings.HasSuffix(strings.TrimSpace(got), "ERROR: tm: something failed") {
		t.Errorf("syslog line: %q", got)
	}
	s.RT.Log.Log(core.LInfo, nil, "kemi: info line")
	if got := read(); !strings.HasPrefix(got, "<158>") { // LOG_INFO is 6
		t.Errorf("syslog info line: %q", got)
	}

	s, err = load("debug=2\nlog_stderror=no\nlog_format=\"json\"")
	if err != nil {
		t.Fatal(err)
	}
	s.RT.Log.Log(core.LWarn, nil, "dispatcher: down")
	// LOG_DAEMON (3) is the default facility; LOG_WARNING is 4.
	if got := read(); !strings.HasPrefix(got, "<28>") || !strings.Contains(got, `"level":"WARNING","msg":"dispatcher: down","module":"dispatcher"}`) {
		t.Errorf("syslog JSON line: %q", got)
	}

	// kemi check and kemi test (no Syslog) keep the lines on LogOut.
	syslog = false
	s, err = load("debug=2\nlog_stderror=no")
	if err != nil {
		t.Fatal(err)
	}
	if s.RT.Log.Syslog != nil {
		t.Error("a load without Options.Syslog writes to syslog")
	}

	for _, bad := range []string{"log_facility=LOG_NOPE", "log_format=\"xml\""} {
		if _, err := load(bad); err == nil {
			t.Errorf("%s: loaded", bad)
		}
	}
}
