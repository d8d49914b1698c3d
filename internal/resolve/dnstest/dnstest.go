// Package dnstest is an authoritative DNS server on 127.0.0.1 for tests:
// records are given as zone-file lines and can be changed while it runs.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Server answers UDP and TCP queries on one 127.0.0.1 port.
type Server struct {
	Addr    string // 127.0.0.1:port
	mu      sync.Mutex
	rrs     []dns.RR
	udp     *dns.Server
	tcp     *dns.Server
	Queries atomic.Int64
}

// Start runs a server answering from records (zone-file lines such as
// "_sip._udp.example.test. 60 IN SRV 10 50 5060 a.example.test."); it
// stops when the test ends.
func Start(t testing.TB, records ...string) *Server {
	t.Helper()
	s := &Server{}
	s.Set(t, records...)
	// One port for UDP and TCP: try until the TCP side of a free UDP
	// port is free too (other tests hold ports on this machine).
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		pc.Close()
		if try == 50 {
			t.Fatal(err)
		}
	}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	t.Cleanup(func() {
		s.udp.Shutdown()
		s.tcp.Shutdown()
	})
	return s
}

// Set replaces the records.
func (s *Server) Set(t testing.TB, records ...string) {
	t.Helper()
	var rrs []dns.RR
	for _, l := range records {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("dnstest: record %q: %v", l, err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	s.rrs = rrs
	s.mu.Unlock()
}

func (s *Server) serve(w dns.ResponseWriter, q *dns.Msg) {
	s.Queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	qn, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	exists := false
	s.mu.Lock()
	for _, rr := range s.rrs {
		h := rr.Header()
		if strings.ToLower(h.Name) != qn {
			continue
		}
		exists = true
		if h.Rrtype == qt {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	s.mu.Unlock()
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := 512
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Silent is a UDP socket on 127.0.0.1 that reads queries and never
// answers, standing for a dead DNS server.
func Silent(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// Raw is a UDP server on 127.0.0.1 that answers every query with what
// reply returns for it (a malformed or hostile answer).
func Raw(t testing.TB, reply func(q []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			if out := reply(b[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}
