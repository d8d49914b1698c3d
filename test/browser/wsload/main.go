// Command wsload is a test-only load client for SIP over WebSocket (RFC
// 7118): it opens connections to a server's ws:// or wss:// URL and sends
// REGISTERs on them, with digest authentication as the sipp scenarios of
// testdata/bench do (REGISTER, 401, REGISTER with credentials, 200), and
// reports registrations per second and the server's CPU time per
// registration, read from /proc for the server's process and all its
// descendants (Kamailio forks). With -idle it instead holds the
// connections open and reports the server's memory per connection.
//
// testdata/bench/ws-compare.sh runs it against kemi and Kamailio (make
// bench). It talks to 127.0.0.1 only.
//
//	wsload -url wss://127.0.0.1:5443 -pid 1234 -c 50 -n 20000 -users 200
//	wsload -url wss://127.0.0.1:5443 -pid 1234 -idle 5000
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

type options struct {
	url      string
	pid      int
	conns    int
	n        int
	rate     float64
	users    int
	user     string
	pass     string
	domain   string
	noauth   bool
	idle     int
	settle   time.Duration
	timeout  time.Duration
	warmup   int
	openRate int
	dialConc int
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "server URL, ws://127.0.0.1:PORT or wss://127.0.0.1:PORT")
	flag.IntVar(&o.pid, "pid", 0, "server's process id: its CPU time (and its descendants') is measured")
	flag.IntVar(&o.conns, "c", 50, "connections; each has one registration in flight at a time")
	flag.IntVar(&o.n, "n", 20000, "registrations to measure (after the warm-up)")
	flag.Float64Var(&o.rate, "rate", 0, "registrations per second over all connections; 0: as fast as the server answers")
	flag.IntVar(&o.users, "users", 200, "subscribers: connection i registers user i mod users")
	flag.StringVar(&o.user, "user", "u%d", "user name pattern (%d: subscriber number)")
	flag.StringVar(&o.pass, "pass", "pw%d", "password pattern (%d: subscriber number)")
	flag.StringVar(&o.domain, "domain", "127.0.0.1", "SIP domain (REGISTER's request URI, From, To)")
	flag.BoolVar(&o.noauth, "noauth", false, "expect 200 to the first REGISTER (server without authentication)")
	flag.IntVar(&o.idle, "idle", 0, "memory mode: open this many connections, register once on each, hold them, report the server's memory per connection")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "memory mode: wait this long before the second reading")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "longest wait for a reply")
	flag.IntVar(&o.warmup, "warmup", 1000, "registrations before the measurement starts")
	flag.IntVar(&o.openRate, "open-rate", 2000, "memory mode: connections opened per second at most")
	flag.IntVar(&o.dialConc, "dial-concurrency", 1, "memory mode: connections being opened at once (Kamailio 5.6's tls module with OpenSSL 3 fails handshakes when several run at once)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return fmt.Errorf("-url %q: want ws://HOST:PORT or wss://HOST:PORT", o.url)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-url %q: want a loopback address and a port (wsload sends nowhere else)", o.url)
	}
	if o.pid <= 0 {
		return errors.New("-pid: the server's process id is needed for its CPU or memory")
	}
	if o.idle > 0 {
		return idle(o)
	}
	return load(o)
}

// client is one WebSocket connection with its registration state.
type client struct {
	conn   net.Conn
	r      io.Reader
	user   string
	pass   string
	callID string
	tag    string
	host   string
	via    string // WS or WSS, as the URL's scheme
	cseq   int
	o      *options
	buf    []byte
}

var dialer = ws.Dialer{
	Protocols: []string{"sip"},
	// The server's certificate is the bench's own self-signed one.
	TLSConfig: &tls.Config{InsecureSkipVerify: true},
	Timeout:   10 * time.Second,
}

func dial(o *options, i int) (*client, error) {
	conn, br, hs, err := dialer.Dial(context.Background(), o.url)
	if err != nil {
		return nil, fmt.Errorf("connection %d: %w", i, err)
	}
	if hs.Protocol != "sip" {
		conn.Close()
		return nil, fmt.Errorf("connection %d: the server chose sub-protocol %q, want sip", i, hs.Protocol)
	}
	c := &client{conn: conn, r: conn, o: o, callID: token(12), tag: token(6), host: token(8) + ".invalid", via: "WSS"}
	if strings.HasPrefix(o.url, "ws:") {
		c.via = "WS"
	}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	k := i % o.users
	c.user, c.pass = fmt.Sprintf(o.user, k), fmt.Sprintf(o.pass, k)
	return c, nil
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *client) request(auth string) []byte {
	c.cseq++
	b := c.buf[:0]
	d := c.o.domain
	b = fmt.Appendf(b, "REGISTER sip:%s SIP/2.0\r\n", d)
	b = fmt.Appendf(b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s\r\n", c.via, c.host, token(8))
	b = append(b, "Max-Forwards: 70\r\n"...)
	b = fmt.Appendf(b, "To: <sip:%s@%s>\r\n", c.user, d)
	b = fmt.Appendf(b, "From: <sip:%s@%s>;tag=%s\r\n", c.user, d, c.tag)
	b = fmt.Appendf(b, "Call-ID: %s\r\n", c.callID)
	b = fmt.Appendf(b, "CSeq: %d REGISTER\r\n", c.cseq)
	b = fmt.Appendf(b, "Contact: <sip:%s@%s;transport=ws>;expires=3600\r\n", c.user, c.host)
	if auth != "" {
		b = append(b, auth...)
	}
	b = append(b, "Expires: 3600\r\nAllow: INVITE,ACK,CANCEL,BYE,MESSAGE,OPTIONS\r\nUser-Agent: kemi-wsload\r\nContent-Length: 0\r\n\r\n"...)
	c.buf = b
	return b
}

// roundTrip sends a request and returns the status code and the
// WWW-Authenticate header of the reply.
func (c *client) roundTrip(req []byte) (int, string, error) {
	c.conn.SetDeadline(time.Now().Add(c.o.timeout))
	if err := wsutil.WriteClientText(c.conn, req); err != nil {
		return 0, "", err
	}
	for {
		msg, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			return 0, "", err
		}
		if op != ws.OpText && op != ws.OpBinary {
			continue
		}
		code, www, err := parseReply(msg)
		if err != nil {
			return 0, "", err
		}
		if code < 200 {
			continue
		}
		return code, www, nil
	}
}

func parseReply(msg []byte) (int, string, error) {
	s := string(msg)
	line, rest, _ := strings.Cut(s, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/2.0") {
		return 0, "", fmt.Errorf("not a SIP reply: %.60q", line)
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, "", fmt.Errorf("status %q: %v", f[1], err)
	}
	var www string
	for _, h := range strings.Split(rest, "\r\n") {
		name, val, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "WWW-Authenticate") {
			www = strings.TrimSpace(val)
		}
	}
	return code, www, nil
}

// register does one registration: REGISTER, 401, REGISTER with digest
// credentials, 200 (or REGISTER, 200 with -noauth).
func (c *client) register() error {
	code, www, err := c.roundTrip(c.request(""))
	if err != nil {
		return err
	}
	if c.o.noauth {
		if code != 200 {
			return fmt.Errorf("REGISTER: %d, want 200", code)
		}
		return nil
	}
	if code != 401 || www == "" {
		return fmt.Errorf("REGISTER without credentials: %d (WWW-Authenticate %q), want 401 with a challenge", code, www)
	}
	auth, err := digest(www, "REGISTER", c.user, c.pass, "sip:"+c.o.domain, token(4))
	if err != nil {
		return err
	}
	code, _, err = c.roundTrip(c.request(auth))
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("REGISTER with credentials (%s): %d, want 200", c.user, code)
	}
	return nil
}

// digest answers a Digest challenge (RFC 2617, MD5, qop auth or none)
// with an Authorization header line.
func digest(www, method, user, pass, uri, cnonce string) (string, error) {
	scheme, params, _ := strings.Cut(www, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return "", fmt.Errorf("challenge %q: want Digest", www)
	}
	p := map[string]string{}
	for _, kv := range splitParams(params) {
		k, v, _ := strings.Cut(kv, "=")
		p[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if a := p["algorithm"]; a != "" && !strings.EqualFold(a, "MD5") {
		return "", fmt.Errorf("challenge %q: algorithm %s, want MD5", www, a)
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h(user + ":" + p["realm"] + ":" + pass)
	ha2 := h(method + ":" + uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s"`, user, p["realm"], p["nonce"], uri)
	if qops := p["qop"]; qops != "" && strings.Contains(","+strings.ReplaceAll(qops, " ", "")+",", ",auth,") {
		nc := "00000001"
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s", response="%s"`, nc, cnonce, h(ha1+":"+p["nonce"]+":"+nc+":"+cnonce+":auth:"+ha2))
	} else {
		fmt.Fprintf(&b, `, response="%s"`, h(ha1+":"+p["nonce"]+":"+ha2))
	}
	if op, ok := p["opaque"]; ok {
		fmt.Fprintf(&b, `, opaque="%s"`, op)
	}
	b.WriteString(", algorithm=MD5\r\n")
	return b.String(), nil
}

// splitParams splits on commas outside quotes.
func splitParams(s string) []string {
	var out []string
	q, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			q = !q
		case ',':
			if !q {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// load opens the connections, warms up, then measures n registrations.
func load(o options) error {
	clients := make([]*client, o.conns)
	for i := range clients {
		c, err := dial(&o, i)
		if err != nil {
			return err
		}
		clients[i] = c
		defer c.conn.Close()
	}
	phase := func(n int) (ok, failed int64, d time.Duration, firstErr error) {
		var next, okN, failN atomic.Int64
		var errOnce sync.Once
		var tick <-chan time.Time
		if o.rate > 0 {
			t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
			defer t.Stop()
			tick = t.C
		}
		var mu sync.Mutex
		t0 := time.Now()
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if tick != nil {
						mu.Lock()
						<-tick
						mu.Unlock()
					}
					if err := c.register(); err != nil {
						failN.Add(1)
						errOnce.Do(func() { firstErr = err })
						return // a broken connection stays broken
					}
					okN.Add(1)
				}
			}()
		}
		wg.Wait()
		return okN.Load(), failN.Load(), time.Since(t0), firstErr
	}
	if o.warmup > 0 {
		if _, failed, _, err := phase(o.warmup); failed > 0 {
			return fmt.Errorf("warm-up: %d failed, first: %v", failed, err)
		}
	}
	cpu0, err := cpuTicks(o.pid)
	if err != nil {
		return err
	}
	ok, failed, d, ferr := phase(o.n)
	cpu1, err := cpuTicks(o.pid)
	if err != nil {
		return err
	}
	us := float64(cpu1-cpu0) / float64(clkTck) * 1e6
	per := 0.0
	if ok > 0 {
		per = us / float64(ok)
	}
	fmt.Printf("registrations=%d failed=%d seconds=%.2f rate=%.0f cpu_us_per_reg=%.1f conns=%d\n",
		ok, failed, d.Seconds(), float64(ok)/d.Seconds(), per, o.conns)
	if failed > 0 {
		fmt.Fprintln(os.Stderr, "wsload: first failure:", ferr)
	}
	return nil
}

// idle opens o.idle connections, registers once on each, and reports the
// server's memory before and after, per connection.
func idle(o options) error {
	m0, err := memory(o.pid)
	if err != nil {
		return err
	}
	clients := make([]*client, 0, o.idle)
	defer func() {
		for _, c := range clients {
			c.conn.Close()
		}
	}()
	gap := time.Second / time.Duration(max(o.openRate, 1))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, max(o.dialConc, 1))
	for i := 0; i < o.idle; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dial(&o, i)
			if err == nil {
				if err = c.register(); err != nil {
					c.conn.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			c.conn.SetDeadline(time.Time{})
			clients = append(clients, c)
		}()
		time.Sleep(gap)
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("%d of %d connections registered; first error: %v", len(clients), o.idle, firstErr)
	}
	time.Sleep(o.settle)
	m1, err := memory(o.pid)
	if err != nil {
		return err
	}
	n := float64(len(clients))
	fmt.Printf("connections=%d rss_kb_before=%d rss_kb_after=%d rss_bytes_per_conn=%.0f pss_kb_before=%d pss_kb_after=%d pss_bytes_per_conn=%.0f\n",
		len(clients), m0.rss, m1.rss, float64(m1.rss-m0.rss)*1024/n, m0.pss, m1.pss, float64(m1.pss-m0.pss)*1024/n)
	return nil
}

// clkTck is USER_HZ, 100 on Linux.
const clkTck = 100

// tree lists pid and its descendants.
func tree(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := statFields(b)
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[p] = pp
		}
	}
	if _, ok := parent[pid]; !ok {
		return nil, fmt.Errorf("process %d is not running", pid)
	}
	var out []int
	for p := range parent {
		for q := p; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

// statFields returns /proc/PID/stat's fields after the command name:
// [0] is state, [1] ppid, [11] utime, [12] stime.
func statFields(b []byte) []string {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// cpuTicks sums user and system CPU ticks of pid and its descendants.
func cpuTicks(pid int) (int64, error) {
	ps, err := tree(pid)
	if err != nil {
		return 0, err
	}
	var t int64
	for _, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := statFields(b)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		t += u + s
	}
	return t, nil
}

type mem struct{ rss, pss int64 }

// memory sums Rss and Pss (kB) over pid and its descendants: Pss shares
// Kamailio's shared memory out among its processes instead of counting it
// once per process.
func memory(pid int) (mem, error) {
	ps, err := tree(pid)
	if err != nil {
		return mem{}, err
	}
	var m mem
	for _, p := range ps {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			fs := strings.Fields(v)
			if len(fs) == 0 {
				continue
			}
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			switch k {
			case "Rss":
				m.rss += n
			case "Pss":
				m.pss += n
			}
		}
		f.Close()
	}
	return m, nil
}
