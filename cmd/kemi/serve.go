package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"kemi/core"
	"kemi/core/loader"
	"kemi/core/router"
	"kemi/internal/memguard"
	"kemi/sip/transport"
)

// serve listens on every configured UDP address with setup.Workers readers
// each, until SIGINT or SIGTERM.
func serve(setup *loader.Setup, stderr io.Writer) error {
	log := setup.RT.Log
	r, err := router.New(setup.RT, setup.Program)
	if err != nil {
		return err
	}
	// The memory budget (-m, shm_mem_size): Go's memory limit, tm's
	// admission of new transactions, memory given back after a load.
	mg := memguard.Default
	log.Log(core.LNotice, nil, "kemi: "+mg.Configure(setup.MemMB))
	mg.Start()
	defer mg.Stop()
	var conns []*transport.UDP
	var workers []*router.Worker
	var mu sync.Mutex
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for _, l := range setup.Listens {
		if l.Proto != "" && l.Proto != "udp" {
			closeAll()
			return fmt.Errorf("%s: listen=%s:%s:%d: only udp is served so far", l.Pos, l.Proto, l.Host, l.Port)
		}
		addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
		c, err := transport.ListenUDP(transport.UDPConfig{Addr: addr, Readers: setup.Workers})
		if err != nil {
			closeAll()
			return fmt.Errorf("listen udp %s: %w", addr, err)
		}
		conns = append(conns, c)
	}
	setup.ResolveMyself()
	// Sends outside a worker (timers) leave through the first socket.
	first := conns[0]
	setup.RT.Send = func(b []byte, proto core.Proto, to netip.AddrPort) error {
		if proto != core.UDP && proto != 0 {
			return fmt.Errorf("send to %s: transport %s is not served", to, proto)
		}
		return first.WriteTo(b, to)
	}
	// Replies sent later (registrar's, held for the disk) leave through
	// the socket their request came in on.
	byLocal := make(map[netip.AddrPort]*transport.UDP, len(conns))
	for _, c := range conns {
		byLocal[c.LocalAddr()] = c
	}
	setup.RT.SendFrom = func(local netip.AddrPort, b []byte, proto core.Proto, to netip.AddrPort) error {
		if proto != core.UDP && proto != 0 {
			return fmt.Errorf("send to %s: transport %s is not served", to, proto)
		}
		c := byLocal[local]
		if c == nil {
			return fmt.Errorf("send to %s: no socket on %s", to, local)
		}
		return c.WriteTo(b, to)
	}

	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for _, c := range conns {
		c := c
		local := c.LocalAddr()
		log.Log(core.LNotice, nil, fmt.Sprintf("kemi %s: listening on udp:%s with %d workers, engine %s, script %s",
			version, local, setup.Workers, setup.Engine.Name, setup.Script))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Serve(func(int) transport.Handler {
				w, err := r.NewWorker(local)
				if err != nil {
					// A VM that builds once at check time builds again here;
					// failing now means the script's top level misbehaves.
					fmt.Fprintln(stderr, "kemi: worker:", err)
					os.Exit(1)
				}
				mu.Lock()
				workers = append(workers, w)
				mu.Unlock()
				return w
			})
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var serveErr error
	select {
	case s := <-sig:
		log.Log(core.LNotice, nil, "kemi: "+s.String()+", stopping")
	case serveErr = <-errs:
	}
	closeAll()
	wg.Wait()
	log.Log(core.LNotice, nil, fmt.Sprintf("kemi: stopped; messages %d, malformed %d, script errors %d, refused over the memory budget %d (heap peak %d MB of %d MB)",
		r.Received.Load(), r.Malformed.Load(), r.ScriptErrors.Load(), mg.Refused.Load(), mg.Peak()>>20, mg.Budget()>>20))
	for _, w := range workers {
		w.Close()
	}
	setup.RT.Stop()
	return serveErr
}
