//go:build unix

package transport

import (
	"net/netip"
	"syscall"
	"testing"
	"time"
)

var benchRequest = []byte("OPTIONS sip:bench@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0\r\n" +
	"From: sipp <sip:sipp@127.0.0.1:5061>;tag=1\r\n" +
	"To: <sip:bench@127.0.0.1:5060>\r\n" +
	"Call-ID: 1-12345@127.0.0.1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Contact: <sip:sipp@127.0.0.1:5061>\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n")

func BenchmarkUDPEchoBatch1(b *testing.B)  { benchEcho(b, 1) }
func BenchmarkUDPEchoBatch16(b *testing.B) { benchEcho(b, 16) }
func BenchmarkUDPEchoBatch64(b *testing.B) { benchEcho(b, 64) }

// benchEcho blasts requests at an echoing listener from one client socket,
// with at most window in flight. Besides wall time per request it reports
// the whole process's CPU time per request (client included, so about
// twice the server's share) and the mean datagrams per receive call.
func benchEcho(b *testing.B, batch int) {
	const window = 128
	u := listen(b, UDPConfig{Readers: 1, Batch: batch})
	stop := serve(b, u, func(int) Handler {
		return HandlerFunc(func(data []byte, from netip.AddrPort, out Writer) { out.WriteTo(data, from) })
	})
	c := dial(b, u)
	c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	buf := make([]byte, 2048)
	// One round trip first, so that the reader's buffers are allocated
	// before the measurement starts.
	c.Write(benchRequest)
	if _, err := c.Read(buf); err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, window)
	b.ReportAllocs()
	st0, cpu0 := u.Stats(), cpuTime()
	b.ResetTimer()
	go func() {
		for range b.N {
			sem <- struct{}{}
			c.Write(benchRequest)
		}
	}()
	for range b.N {
		if _, err := c.Read(buf); err != nil {
			b.Fatalf("client read (a datagram lost?): %v", err)
		}
		<-sem
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	stop()
	st := u.Stats()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if n := st.Batches - st0.Batches; n > 0 {
		b.ReportMetric(float64(st.Received-st0.Received)/float64(n), "dgrams/batch")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
