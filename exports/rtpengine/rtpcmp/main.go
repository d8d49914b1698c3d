// Command rtpcmp measures the CPU a proxy spends per call that goes
// through rtpengine: offer in the branch route, answer in the onreply
// route, delete on BYE (8 SIP messages and 3 ng round trips per call).
// It runs kemi (testdata/bench/rtpengine-{lua,js,star}.cfg, a script
// calling rtpengine_manage) or Kamailio (testdata/bench/rtpengine-kamailio.cfg,
// the same in native cfg, with Debian's rtpengine.so) against an rtpengine
// already running, drives calls from Go UDP peers on 127.0.0.1 and reads
// the proxy's CPU time (every process of its group) from /proc. From the
// repository root:
//
//	rtpengine --foreground --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:2223 &
//	go build -o /tmp/kemi ./cmd/kemi
//	go run ./exports/rtpengine/rtpcmp -proxy kemi -engine lua -kemi /tmp/kemi -ng 2223 -calls 2000
//	go run ./exports/rtpengine/rtpcmp -proxy kamailio -ng 2223 -calls 2000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func free() int {
	c, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// cpuOfGroup sums utime+stime (ticks) of every process in process group pg.
func cpuOfGroup(pg int) int64 {
	var t int64
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		pgid, _ := strconv.Atoi(f[2])
		if pgid != pg && pid != pg {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		t += u + st
	}
	return t
}

func sdp(port int) string {
	return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " + strconv.Itoa(port) + " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
}

func withSDP(head []string, b string) string {
	return strings.Join(head, "\r\n") + "\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n" + b
}

func hdrs(msg string, names ...string) []string {
	var out []string
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		n, _, _ := strings.Cut(l, ":")
		for _, w := range names {
			if strings.EqualFold(strings.TrimSpace(n), w) {
				out = append(out, l)
			}
		}
	}
	return out
}

func await(c *net.UDPConn, first string) (string, error) {
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return "", fmt.Errorf("waiting for %s: %w", first, err)
		}
		if m := string(buf[:n]); strings.HasPrefix(m, first) {
			return m, nil
		}
	}
}

func loop(proxy *net.UDPAddr, id, calls int, rtt *[]time.Duration, mu *sync.Mutex) error {
	uac, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	uas, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer uac.Close()
	defer uas.Close()
	up, sp := uac.LocalAddr().(*net.UDPAddr).Port, uas.LocalAddr().(*net.UDPAddr).Port
	for i := 0; i < calls; i++ {
		cid := fmt.Sprintf("perf-%d-%d-%d", os.Getpid(), id, i)
		t0 := time.Now()
		uac.WriteToUDP([]byte(withSDP([]string{
			"INVITE sip:bob@127.0.0.1:" + strconv.Itoa(sp) + " SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(up) + ";branch=z9hG4bK-" + cid + ";rport",
			"From: <sip:alice@127.0.0.1>;tag=a" + strconv.Itoa(i), "To: <sip:bob@127.0.0.1>", "Call-ID: " + cid,
			"CSeq: 1 INVITE", "Contact: <sip:alice@127.0.0.1:" + strconv.Itoa(up) + ">", "Max-Forwards: 70"}, sdp(30000+2*i%1000))), proxy)
		inv, err := await(uas, "INVITE ")
		if err != nil {
			return err
		}
		uas.WriteToUDP([]byte(withSDP(append(append([]string{"SIP/2.0 200 OK"}, hdrs(inv, "Via", "From", "Call-ID", "CSeq")...),
			"To: <sip:bob@127.0.0.1>;tag=b"+strconv.Itoa(i), "Contact: <sip:bob@127.0.0.1:"+strconv.Itoa(sp)+">"), sdp(31000+2*i%1000))), proxy)
		if _, err := await(uac, "SIP/2.0 200"); err != nil {
			return err
		}
		uac.WriteToUDP([]byte(strings.Join([]string{
			"BYE sip:bob@127.0.0.1:" + strconv.Itoa(sp) + " SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(up) + ";branch=z9hG4bK-bye-" + cid + ";rport",
			"From: <sip:alice@127.0.0.1>;tag=a" + strconv.Itoa(i), "To: <sip:bob@127.0.0.1>;tag=b" + strconv.Itoa(i),
			"Call-ID: " + cid, "CSeq: 2 BYE", "Max-Forwards: 70", "Content-Length: 0"}, "\r\n")+"\r\n\r\n"), proxy)
		bye, err := await(uas, "BYE ")
		if err != nil {
			return err
		}
		uas.WriteToUDP([]byte(strings.Join(append(append([]string{"SIP/2.0 200 OK"}, hdrs(bye, "Via", "From", "To", "Call-ID", "CSeq")...), "Content-Length: 0"), "\r\n")+"\r\n\r\n"), proxy)
		if _, err := await(uac, "SIP/2.0 200"); err != nil {
			return err
		}
		mu.Lock()
		*rtt = append(*rtt, time.Since(t0))
		mu.Unlock()
	}
	return nil
}

func main() {
	which := flag.String("proxy", "kemi", "kemi or kamailio")
	engine := flag.String("engine", "lua", "kemi's script engine: lua, js or star")
	kemiBin := flag.String("kemi", "./kemi", "")
	bench := flag.String("bench", "testdata/bench", "folder of rtpengine-*.cfg and rtpengine.{lua,js,star}")
	ng := flag.Int("ng", 0, "rtpengine ng port")
	calls := flag.Int("calls", 500, "")
	conc := flag.Int("c", 4, "")
	flag.Parse()
	dir, _ := os.MkdirTemp("", "perf")
	defer os.RemoveAll(dir)
	port := free()
	// fill copies a bench file into dir with its placeholders set.
	fill := func(name, out string) string {
		b, err := os.ReadFile(filepath.Join(*bench, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, err, "(run from the repository root, or give -bench)")
			os.Exit(2)
		}
		s := strings.NewReplacer("PORT", strconv.Itoa(port), "NG", strconv.Itoa(*ng)).Replace(string(b))
		os.WriteFile(filepath.Join(dir, out), []byte(s), 0o644)
		return filepath.Join(dir, out)
	}
	var cmd *exec.Cmd
	switch *which {
	case "kemi":
		fill("rtpengine."+*engine, "rtpengine."+*engine)
		cfg := fill("rtpengine-"+*engine+".cfg", "kemi.cfg")
		cmd = exec.Command(*kemiBin, "serve", "-f", cfg, "-l", "udp:127.0.0.1:"+strconv.Itoa(port))
	default:
		cfg := fill("rtpengine-kamailio.cfg", "k.cfg")
		cmd = exec.Command("/usr/sbin/kamailio", "-f", cfg, "-DD", "-E", "-m", "512", "-M", "16", "-Y", dir, "-P", filepath.Join(dir, "k.pid"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.StderrPipe()
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if os.Getenv("PERF_LOG") != "" {
				fmt.Println(sc.Text())
			}
		}
	}()
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); cmd.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	proxy := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	var mu sync.Mutex
	var rtt []time.Duration
	// warm up
	if err := loop(proxy, 999, 20, &rtt, &mu); err != nil {
		fmt.Println("warmup:", err)
		return
	}
	rtt = rtt[:0]
	c0 := cpuOfGroup(cmd.Process.Pid)
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *conc)
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs <- loop(proxy, i, *calls / *conc, &rtt, &mu) }(i)
	}
	wg.Wait()
	el := time.Since(t0)
	c1 := cpuOfGroup(cmd.Process.Pid)
	close(errs)
	for e := range errs {
		if e != nil {
			fmt.Println("error:", e)
		}
	}
	n := len(rtt)
	var sum time.Duration
	for _, d := range rtt {
		sum += d
	}
	tick := 10 * time.Millisecond // USER_HZ 100
	label := *which
	if *which == "kemi" {
		label += "-" + *engine
	}
	fmt.Printf("%s: %d calls in %v; proxy CPU %v = %v per call (offer+answer+delete, 8 SIP messages); mean call time %v\n",
		label, n, el.Round(time.Millisecond), time.Duration(c1-c0)*tick, time.Duration(c1-c0)*tick/time.Duration(max(n, 1)), (sum / time.Duration(max(n, 1))).Round(time.Microsecond))
}
