// Command idleconns is a test-only client for the idle-connection memory
// figures in sip/transport/README.md: it opens N TCP or TLS connections
// to a SIP server, sends one OPTIONS on each and reads the reply (so every
// connection has carried a message each way), prints "ready N", and holds
// them idle until its standard input closes or gets a line. It works
// against kemi and Kamailio alike (testdata/bench/idle-memory.sh).
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5060", "the server's TCP or TLS address")
	n := flag.Int("n", 10000, "connections to open and hold")
	useTLS := flag.Bool("tls", false, "TLS (the server's certificate is not verified)")
	flag.Parse()

	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < uint64(*n)+50 {
		fatal(fmt.Errorf("idleconns: open-files limit %d is below %d connections", lim.Cur, *n))
	}
	proto := "TCP"
	if *useTLS {
		proto = "TLS"
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	conns := make([]net.Conn, 0, *n)
	buf := make([]byte, 4096)
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fatal(fmt.Errorf("idleconns: connection %d: %w", i, err))
		}
		if *useTLS {
			tc := tls.Client(c, cfg)
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				fatal(fmt.Errorf("idleconns: TLS handshake %d: %w", i, err))
			}
			c = tc
		}
		la := c.LocalAddr().String()
		msg := fmt.Sprintf("OPTIONS sip:idle@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/%s %s;branch=z9hG4bK-idle-%d\r\n"+
			"From: <sip:idle@%s>;tag=%d\r\nTo: <sip:idle@%s>\r\n"+
			"Call-ID: idle-%d@%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			*addr, proto, la, i, la, i, *addr, i, la)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			fatal(fmt.Errorf("idleconns: send %d: %w", i, err))
		}
		got := 0
		for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
			m, err := c.Read(buf[got:])
			if err != nil {
				fatal(fmt.Errorf("idleconns: reply %d: %w", i, err))
			}
			got += m
		}
		if !bytes.HasPrefix(buf[:got], []byte("SIP/2.0 ")) {
			fatal(fmt.Errorf("idleconns: reply %d: want SIP/2.0, got %q", i, buf[:min(got, 40)]))
		}
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Printf("ready %d\n", len(conns))
	bufio.NewReader(os.Stdin).ReadString('\n')
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
