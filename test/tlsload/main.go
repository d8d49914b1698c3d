// Command tlsload is a test-only SIP-over-TLS load client for the
// benchmarks (testdata/bench/stream-compare.sh): C callers, each on a TLS
// connection of its own, make calls through a record-routing proxy
// (INVITE, 180, 200, ACK, BYE, 200, with the Route set the 200 brought)
// to a callee this program runs on UDP, one call after another, until N
// calls are done. It prints "calls_per_second ok failed".
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5061", "the proxy's TLS address")
	ca := flag.String("ca", "", "PEM file the proxy's certificate is verified against (empty: not verified)")
	sni := flag.String("sni", "", "server name to send and verify")
	uas := flag.Int("uas", 0, "UDP port of the callee this program runs on 127.0.0.1 (the proxy sends calls there)")
	calls := flag.Int("n", 2000, "calls in all")
	conc := flag.Int("c", 20, "callers, each on its own TLS connection")
	timeout := flag.Duration("timeout", 5*time.Second, "longest wait for a reply")
	flag.Parse()

	cfg := &tls.Config{InsecureSkipVerify: *ca == "", ServerName: *sni}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fatal(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(pem)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(*uas))
	if err != nil {
		fatal(err)
	}
	go callee(pc)

	var next, ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: *timeout}, "tcp", *addr, cfg)
			if err != nil {
				fmt.Fprintln(os.Stderr, "tlsload:", err)
				for next.Add(1) <= int64(*calls) {
					failed.Add(1)
				}
				return
			}
			defer c.Close()
			cl := &caller{c: c, r: bufio.NewReaderSize(c, 16<<10), local: c.LocalAddr().String(), proxy: *addr, id: i, timeout: *timeout}
			for n := next.Add(1); n <= int64(*calls); n = next.Add(1) {
				if err := cl.call(n); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "tlsload: call", n, err)
					return
				}
				ok.Add(1)
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("%.0f %d %d\n", float64(ok.Load())/el, ok.Load(), failed.Load())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "tlsload:", err)
	os.Exit(1)
}

type caller struct {
	c       net.Conn
	r       *bufio.Reader
	local   string
	proxy   string
	id      int
	timeout time.Duration
	buf     []byte
}

const sdp = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"

// call runs one call: INVITE until its 200, ACK and BYE along the
// Route set, until the BYE's 200.
func (cl *caller) call(n int64) error {
	callID := fmt.Sprintf("tlsload-%d-%d", cl.id, n)
	tag := "t" + strconv.FormatInt(n, 36)
	from := "From: <sip:caller@127.0.0.1>;tag=" + tag + "\r\n"
	b := cl.buf[:0]
	b = append(b, "INVITE sip:callee@"+cl.proxy+" SIP/2.0\r\nVia: SIP/2.0/TLS "+cl.local+";branch=z9hG4bK-"+callID+"-i;rport\r\n"...)
	b = append(b, from+"To: <sip:callee@"+cl.proxy+">\r\nCall-ID: "+callID+"\r\nCSeq: 1 INVITE\r\n"...)
	b = append(b, "Contact: <sip:caller@"+cl.local+";transport=tls>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(sdp)), 10)
	b = append(b, "\r\n\r\n"+sdp...)
	if _, err := cl.c.Write(b); err != nil {
		return err
	}
	var to, contact string
	var routes []string
	for {
		m, err := cl.read()
		if err != nil {
			return fmt.Errorf("INVITE: %w", err)
		}
		code := status(m)
		if code < 200 {
			continue
		}
		if code != 200 {
			return fmt.Errorf("INVITE: %d", code)
		}
		to = header(m, "To")
		contact = uriOf(header(m, "Contact"))
		for _, rr := range headers(m, "Record-Route") {
			routes = append([]string{rr}, routes...)
		}
		break
	}
	inDialog := func(method, cseq, branch string) []byte {
		b := cl.buf[:0]
		b = append(b, method+" "+contact+" SIP/2.0\r\nVia: SIP/2.0/TLS "+cl.local+";branch=z9hG4bK-"+callID+branch+";rport\r\n"...)
		b = append(b, from+"To: "+to+"\r\nCall-ID: "+callID+"\r\nCSeq: "+cseq+"\r\n"...)
		for _, r := range routes {
			b = append(b, "Route: "+r+"\r\n"...)
		}
		return append(b, "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"...)
	}
	if _, err := cl.c.Write(inDialog("ACK", "1 ACK", "-a")); err != nil {
		return err
	}
	if _, err := cl.c.Write(inDialog("BYE", "2 BYE", "-b")); err != nil {
		return err
	}
	for {
		m, err := cl.read()
		if err != nil {
			return fmt.Errorf("BYE: %w", err)
		}
		if code := status(m); code >= 200 && bytes.Contains(m, []byte(" BYE\r\n")) {
			if code != 200 {
				return fmt.Errorf("BYE: %d", code)
			}
			return nil
		}
	}
}

// read reads one message (framed by Content-Length) from the connection.
func (cl *caller) read() ([]byte, error) {
	cl.c.SetReadDeadline(time.Now().Add(cl.timeout))
	var msg []byte
	clen := 0
	for {
		line, err := cl.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(msg) == 0 && (len(line) <= 2) {
			continue // keepalive CRLF
		}
		msg = append(msg, line...)
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length:")); ok {
			clen, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
		if len(line) == 2 {
			break
		}
	}
	if clen > 0 {
		body := make([]byte, clen)
		if _, err := io.ReadFull(cl.r, body); err != nil {
			return nil, err
		}
		msg = append(msg, body...)
	}
	return msg, nil
}

func status(m []byte) int {
	if !bytes.HasPrefix(m, []byte("SIP/2.0 ")) || len(m) < 11 {
		return 0
	}
	n, _ := strconv.Atoi(string(m[8:11]))
	return n
}

// headers returns the values of every header called name (each comma
// element of a Record-Route line apart).
func headers(m []byte, name string) []string {
	var out []string
	for _, line := range bytes.Split(m, []byte("\r\n")) {
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			continue
		}
		for _, e := range bytes.Split(v, []byte(",")) {
			out = append(out, string(bytes.TrimSpace(e)))
		}
	}
	return out
}

func header(m []byte, name string) string {
	for _, line := range bytes.Split(m, []byte("\r\n")) {
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

func uriOf(v string) string {
	if i := bytes.IndexByte([]byte(v), '<'); i >= 0 {
		if j := bytes.IndexByte([]byte(v[i:]), '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	return v
}

// callee answers INVITEs with 180 and 200, ignores ACKs, and answers BYEs
// with 200, on UDP.
func callee(pc net.PacketConn) {
	buf := make([]byte, 65536)
	var out []byte
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		m := buf[:n]
		var method string
		if i := bytes.IndexByte(m, ' '); i > 0 {
			method = string(m[:i])
		}
		reply := func(code string, tag bool, contact bool) {
			out = append(out[:0], "SIP/2.0 "+code+"\r\n"...)
			for _, line := range bytes.Split(m, []byte("\r\n")) {
				if len(line) == 0 {
					break
				}
				k, _, _ := bytes.Cut(line, []byte(":"))
				switch string(bytes.ToLower(bytes.TrimSpace(k))) {
				case "via", "v", "from", "f", "call-id", "i", "cseq", "record-route":
					out = append(append(out, line...), "\r\n"...)
				case "to", "t":
					out = append(out, line...)
					if tag {
						out = append(out, ";tag=uas"...)
					}
					out = append(out, "\r\n"...)
				}
			}
			if contact {
				out = append(out, "Contact: <sip:callee@"+pc.LocalAddr().String()+">\r\n"...)
			}
			out = append(out, "Content-Length: 0\r\n\r\n"...)
			pc.WriteTo(out, from)
		}
		switch method {
		case "INVITE":
			reply("180 Ringing", true, true)
			reply("200 OK", true, true)
		case "BYE":
			reply("200 OK", false, false)
		}
	}
}
