// Command udpbench runs a kemi UDP listener that answers every SIP request
// with a minimal 200 OK, built by the same byte scan as the shared
// bench/udpfloor responder, so that the transport's CPU cost per request can
// be measured with sipp (bench/kamailio/measure.sh) and compared with the
// bare ReadFrom/WriteTo floor.
//
//	udpbench -l 127.0.0.1:5090 -batch 16 -readers 1
package main

import (
	"bytes"
	"flag"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"kemi/sip/transport"
)

func main() {
	addr := flag.String("l", "127.0.0.1:5090", "listen address")
	batch := flag.Int("batch", transport.DefaultBatch, "datagrams per system call (1 = no batching)")
	readers := flag.Int("readers", 1, "reader goroutines")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	u, err := transport.ListenUDP(transport.UDPConfig{Addr: *addr, Batch: *batch, Readers: *readers})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		u.Close()
	}()
	err = u.Serve(func(int) transport.Handler { return &responder{out: make([]byte, 0, 4096)} })
	log.Printf("udpbench: %+v", u.Stats())
	if err != nil {
		log.Print(err)
	}
}

var keep = [][]byte{[]byte("Via:"), []byte("From:"), []byte("To:"), []byte("Call-ID:"), []byte("CSeq:")}

// responder is udpfloor's reply builder behind the transport.Handler API.
type responder struct{ out []byte }

func (r *responder) HandlePacket(msg []byte, from netip.AddrPort, w transport.Writer) {
	out := append(r.out[:0], "SIP/2.0 200 OK\r\n"...)
	for len(msg) > 0 {
		i := bytes.Index(msg, []byte("\r\n"))
		if i <= 0 {
			break
		}
		line := msg[:i]
		for _, k := range keep {
			if bytes.HasPrefix(line, k) {
				out = append(out, line...)
				if k[0] == 'T' {
					out = append(out, ";tag=floor"...)
				}
				out = append(out, "\r\n"...)
			}
		}
		msg = msg[i+2:]
	}
	out = append(out, "Content-Length: 0\r\n\r\n"...)
	r.out = out
	w.WriteTo(out, from)
}
