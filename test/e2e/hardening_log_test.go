package e2e

import (
	"math/rand"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHardening_LogFloodBoundedE2E is issue 10's "log floods" from outside:
// 20k datagrams to the default registrar (`make run`), each one something
// kemi logs: garbage that does not parse, OPTIONS whose 60 kB Max-Forwards
// fails process_maxfwd, OPTIONS to the server whose 60 kB Request-URI
// is_myself cannot parse. Before the fix each was a line, the big ones
// 60 kB each; now each kind is a burst and a few lines a second, every
// value cut to a few hundred bytes. What the script logs itself is the
// operator's choice and never held back: the default script's sanity
// check logs each of the 500 is_myself ones, in a short line.
func TestHardening_LogFloodBoundedE2E(t *testing.T) {
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	s := startKemi(t, "")
	c, err := net.Dial("udp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	big := strings.Repeat("9", 60_000)
	ruri := "sip:" + strings.Repeat("a", 60_000) + "@" + s.addr + ";x=\x01"
	msg := func(ruri, maxfwd string, i int) []byte {
		return []byte("OPTIONS " + ruri + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-f" + strconv.Itoa(i) + "\r\n" +
			"From: <sip:flood@127.0.0.1>;tag=f\r\nTo: <sip:" + s.addr + ">\r\n" +
			"Call-ID: flood-" + strconv.Itoa(i) + "\r\nCSeq: 1 OPTIONS\r\n" +
			"Max-Forwards: " + maxfwd + "\r\nContent-Length: 0\r\n\r\n")
	}
	rng := rand.New(rand.NewSource(10))
	garbage := make([]byte, 1400)
	const total = 20_000
	start := time.Now()
	for i := 0; i < total; i++ {
		var b []byte
		switch {
		case i%40 == 1:
			b = msg("sip:"+s.addr, big, i) // process_maxfwd fails
		case i%40 == 2:
			b = msg(ruri, "70", i) // is_myself_ruri cannot parse it
		case i%2 == 0:
			rng.Read(garbage[:1+rng.Intn(len(garbage)-1)])
			b = garbage[:1+rng.Intn(len(garbage)-1)]
		default:
			b = []byte("OPTIONS sip:x SIP/2.0\r\nContent-Length: " + strconv.Itoa(i) + "x\r\nX: \x1b[2J\r\n\r\n")
		}
		if _, err := c.Write(b); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if i%100 == 99 {
			time.Sleep(2 * time.Millisecond) // let kemi read them rather than the kernel drop them
		}
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	s.stop()
	log := s.Log()

	stopped := regexp.MustCompile(`stopped; messages (\d+), malformed (\d+)`).FindStringSubmatch(log)
	if stopped == nil {
		t.Fatalf("no shutdown counters in the log:\n%s", tail(log, 3000))
	}
	got, _ := strconv.Atoi(stopped[1])
	t.Logf("%d datagrams sent in %v, %d received (%s malformed): %d bytes of log in %d lines",
		total, took.Round(time.Millisecond), got, stopped[2], len(log), strings.Count(log, "\n"))
	if got < total/2 {
		t.Fatalf("kemi received %d of %d datagrams: the flood did not arrive", got, total)
	}
	if len(log) > 256<<10 {
		t.Errorf("%d datagrams gave %d bytes of log; want under 256 kB:\n%s", total, len(log), tail(log, 3000))
	}
	for _, l := range strings.Split(log, "\n") {
		if len(l) > 1000 {
			t.Errorf("a %d-byte log line: %.300s...", len(l), l)
			break
		}
		if strings.Contains(l, "\x1b") {
			t.Errorf("an ESC reached the log: %q", l)
			break
		}
	}
	// The script's own KSR.err lines have a limit of their own, larger than
	// the modules' (core.ScriptErrBurst, then core.ScriptErrPerSec).
	if n := strings.Count(log, "ERROR: malformed request from"); n < 100 || n > 400 {
		t.Errorf("the script's own KSR.err lines: %d, want its burst of 200 and a few more (%d is_myself datagrams sent)", n, total/40)
	}
	for _, want := range []string{"dropped malformed message", "maxfwd: process_maxfwd", "is_myself: cannot parse URI", "...[cut ", " suppressed in the last "} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %q", want)
		}
	}
}
