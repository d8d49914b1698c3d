package e2e

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tcpModes are sipp's TCP modes: one connection for every call (t1) and
// a new connection per call (tn).
var tcpModes = []string{"t1", "tn"}

// tcpArgs are sipp's arguments for a TCP mode; tn's default socket limit
// (50000) is above this machine's open-files limit, which sipp refuses.
func tcpArgs(mode string, more ...string) []string {
	return append([]string{"-t", mode, "-max_socket", "200"}, more...)
}

// TestIssue13_TCPSeedOptions (issue 13, server + router): the seed
// OPTIONS over TCP with sipp -t t1 and -t tn in every engine, kemi
// listening on udp and tcp on the same port; replies come back on each
// request's connection, and UDP keeps answering.
func TestIssue13_TCPSeedOptions(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startKemi(t, e.cfg, "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					s.sipp(t, optionsScenario(t, 70, 200, e.reason), 20, 5, tcpArgs(mode)...)
					s.sipp(t, optionsScenario(t, 0, 483, "Too Many Hops"), 5, 1, tcpArgs(mode)...)
				})
			}
			s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1)
			if !strings.Contains(s.Log(), "listening on tcp:127.0.0.1:"+strconv.Itoa(s.port)) {
				t.Errorf("no tcp listening line; log:\n%s", s.Log())
			}
		})
	}
}

// TestIssue13_TCPRegistrarRegister (issue 13): the registrar's REGISTER
// (challenge, then credentials) over TCP, t1 and tn, with Kamailio's Lua
// script and kemi's in every language.
func TestIssue13_TCPRegistrarRegister(t *testing.T) {
	needSipp(t)
	for _, rs := range registrarScripts {
		t.Run(rs.name, func(t *testing.T) {
			if rs.name == "kamailio-lua" {
				needKamailioScript(t, kamailioLua)
			}
			db := t.TempDir() + "/kemi.db"
			addUser(t, db, "alice@127.0.0.1", "alice-secret")
			s := startKemi(t, repo(rs.cfg), "-A", `AUTHDB="`+db+`"`, "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					sc := scenario(t, "request.xml", "METHOD", "REGISTER", "RURI", "sip:"+s.addr, "MAXFWD", "70",
						"UA", "kemi-e2e", "CODE", "401", "CHECK", xmlSafe(`WWW-Authenticate: Digest .*realm="127\.0\.0\.1"`))
					s.sipp(t, sc, 1, 1, tcpArgs(mode)...)
					cport := freePort(t)
					contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(cport) + ";transport=tcp>"
					sc = scenario(t, "register.xml", "USER", "alice", "CONTACT", contact, "EXPIRES", "600", "CODE", "200",
						"CHECK", xmlSafe(`Contact: *<sip:alice@127\.0\.0\.1:`+strconv.Itoa(cport)+`;transport=tcp>;expires=(600|599)`))
					s.sipp(t, sc, 1, 1, tcpArgs(mode, "-au", "alice", "-ap", "alice-secret")...)
				})
			}
		})
	}
}

// TestIssue13_StreamHostile (issue 13, hostile input against the real
// binary): a 10 MB message and a connection that sends one byte a second
// are cut off by their limits (tcp_max_message_size, tcp_msg_read_timeout
// given as core params), while another client over TCP keeps being served.
func TestIssue13_StreamHostile(t *testing.T) {
	needSipp(t)
	e := engines[0]
	s := startKemi(t, e.cfg, "-l", "tcp:127.0.0.1:{PORT}")
	addr := s.addr

	// 10 MB: a header block with a huge Content-Length, then the bytes.
	big, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	bigDone := make(chan error, 1)
	go func() {
		hdr := "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-big\r\n" +
			"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10485760\r\n\r\n"
		big.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, err := big.Write([]byte(hdr)); err != nil {
			bigDone <- err
			return
		}
		chunk := make([]byte, 64<<10)
		for i := 0; i < 160; i++ {
			if _, err := big.Write(chunk); err != nil {
				bigDone <- err
				return
			}
		}
		bigDone <- nil
	}()
	// Slow loris: one byte a second of a header block that never ends.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slowDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		msg := "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slow\r\nX-Slow: "
		for i := 0; ; i++ {
			b := byte('a')
			if i < len(msg) {
				b = msg[i]
			}
			if _, err := slow.Write([]byte{b}); err != nil {
				slowDone <- time.Since(start)
				return
			}
			if time.Since(start) > 40*time.Second {
				slowDone <- -1
				return
			}
			time.Sleep(time.Second)
		}
	}()
	// Meanwhile a well-behaved client is served, over TCP and UDP.
	time.Sleep(500 * time.Millisecond)
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 10, 1, tcpArgs("t1")...)
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1)

	select {
	case err := <-bigDone:
		if err == nil {
			// Every byte went into socket buffers; the server must still
			// have closed the connection.
			big.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = bufio.NewReader(big).ReadByte()
			if err == nil {
				t.Errorf("10 MB message: the connection is still open and answered")
			}
		}
	case <-time.After(30 * time.Second):
		t.Errorf("10 MB message: the connection was not cut off within 30s")
	}
	select {
	case d := <-slowDone:
		if d < 0 {
			t.Errorf("slow loris: still connected after 40 s")
		}
		t.Logf("slow loris cut off after %v", d)
	case <-time.After(45 * time.Second):
		t.Errorf("slow loris: not cut off")
	}
	// And after both, still served.
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1, tcpArgs("tn")...)
	s.stop()
	for _, want := range []string{"slow 1,", "too big 1,"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("the stop line's stream counters lack %q; log:\n%s", want, s.Log())
		}
	}
}

// TestIssue13_UDPToTCPCall (issue 13, tm over streams): a call from a UDP
// caller through the record-routing proxy to a callee reached over TCP
// ($du with transport=tcp), in every engine: the INVITE leaves with a TCP
// Via from kemi's tcp listen, the callee's replies come back on that
// connection and go upstream over UDP, and the ACK and the caller's BYE
// reach the callee over TCP (its Contact says transport=tcp).
func TestIssue13_UDPToTCPCall(t *testing.T) {
	for _, e := range proxyEngines {
		t.Run(e.name, func(t *testing.T) {
			uas1 := freeTCPPort(t)
			s := startProxy(t, e.ext, e.define, uas1, freePort(t), "-l", "tcp:127.0.0.1:{PORT}")
			u := startUAS(t, "uas-call-tcp.xml", uas1, "-t", "t1", "-max_socket", "100")
			s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, "-s", "tcpcall")
			u.wait(t, "udp to tcp call")
		})
	}
}

// freeTCPPort finds a port free for both TCP and UDP on 127.0.0.1.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		p := freePort(t)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free tcp port")
	return 0
}
