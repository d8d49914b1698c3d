// Package server runs a loaded config: it binds the listen sockets, gives
// the runtime what it sends through, its is_myself policy and its VM
// builder before the modules start, runs the workers, and stops it all.
// `kemi serve` is New, Serve and Close; `kemi test` builds the same server
// with no sockets (Options.Offline) and feeds it messages itself.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"kemi/core"
	"kemi/core/loader"
	"kemi/core/router"
	"kemi/internal/memguard"
	"kemi/server/jsonrpc"
	"kemi/sip/transport"
	"kemi/sip/transport/tlscfg"
)

// Options are the loader's (config, flags) and how the server runs.
type Options struct {
	loader.Options

	// Offline builds the server with no sockets, for kemi test: the
	// is_myself policy is the listen addresses and aliases without
	// auto_aliases' lookups, messages come in through Worker, and what
	// the runtime sends outside a worker (timers) goes to Out. The
	// memory guard is not started.
	Offline bool
	// Out receives what is sent outside a worker when Offline; nil drops it.
	Out func(b []byte, proto core.Proto, to netip.AddrPort)
	// Clock, when set, is what the modules' timers run on (kemi test's
	// fake clock).
	Clock core.Clock

	// Version is printed in the "listening on" line.
	Version string
}

// Server is a loaded config with its sockets bound.
type Server struct {
	Setup  *loader.Setup
	Router *router.Router

	opt   Options
	log   *core.Logger
	mg    *memguard.Guard
	conns []*transport.UDP

	streams  *transport.Streams // TCP and TLS (streams.go); nil without such a listen
	streamLs []*transport.StreamListener
	tls      *tlscfg.Store // the tls module's certificates; nil without a tls: listen

	rpc   *jsonrpc.Methods
	dgram *jsonrpc.Dgram
	fifo  *jsonrpc.Fifo

	metrics  *http.Server
	promOnce sync.Once
	prom     *prometheus.Registry

	reloadMu sync.Mutex // one reload at a time

	mu      sync.Mutex
	workers []*router.Worker
	served  bool
	closed  bool
}

// New loads the config, compiles the script, binds every listen socket
// (unless Offline) and starts the modules. Every error names the config
// line or the address at fault; on an error nothing stays open.
func New(opt Options) (*Server, error) {
	s := &Server{opt: opt}
	lopt := opt.Options
	lopt.Wire = s.wire
	setup, err := loader.Load(lopt)
	if err != nil {
		s.closeConns()
		return nil, err
	}
	s.Setup = setup
	return s, nil
}

// wire runs inside loader.Load, after the script compiled and before the
// modules start: the runtime gets its VM builder (the router), its
// is_myself policy and its senders here.
func (s *Server) wire(setup *loader.Setup) error {
	rt := setup.RT
	s.log = rt.Log
	r, err := router.New(rt, setup.Program)
	if err != nil {
		return err
	}
	s.Router = r
	s.Setup = setup
	s.control()
	if s.opt.Clock != nil {
		rt.Clock = s.opt.Clock
	}
	if s.opt.Offline {
		out := s.opt.Out
		rt.Send = func(b []byte, proto core.Proto, to netip.AddrPort) error {
			if proto != core.UDP && proto != 0 {
				return fmt.Errorf("send to %s: transport %s is not served", to, proto)
			}
			if out != nil {
				out(append([]byte(nil), b...), proto, to)
			}
			return nil
		}
		offlineStreams(rt, setup, out)
		// SendFrom stays nil: held replies are sent in the worker, so a
		// test sees them in the step that caused them.
		return nil
	}
	// The memory budget (-m, shm_mem_size): Go's memory limit, tm's
	// admission of new transactions, memory given back after a load.
	s.mg = memguard.Default
	s.log.Log(core.LNotice, nil, "kemi: "+s.mg.Configure(setup.MemMB))
	for _, l := range setup.Listens {
		if l.Proto == "tcp" || l.Proto == "tls" {
			continue // streams.go
		}
		if l.Proto != "" && l.Proto != "udp" {
			s.closeConns()
			return fmt.Errorf("%s: listen=%s:%s:%d: only udp, tcp and tls are served so far", l.Pos, l.Proto, l.Host, l.Port)
		}
		addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
		c, err := transport.ListenUDP(transport.UDPConfig{Addr: addr, Readers: setup.Workers})
		if err != nil {
			s.closeConns()
			return fmt.Errorf("listen udp %s: %w", addr, err)
		}
		s.conns = append(s.conns, c)
	}
	st, ls, store, err := listenStreams(setup, s.opt.Path)
	if err != nil {
		s.closeConns()
		return err
	}
	s.streams, s.streamLs, s.tls = st, ls, store
	r.Streams = st
	if v, ok := setup.Config.Global("tcp_accept_aliases"); ok {
		r.AcceptAliases = v.Truth()
	}
	s.wireStreams(rt)
	setup.ResolveMyself()
	// Sends outside a worker (timers) leave through the first UDP socket,
	// or over TCP and TLS through the streams.
	var first *transport.UDP
	if len(s.conns) > 0 {
		first = s.conns[0]
	}
	if rt.StreamLocal == nil && first != nil {
		// No tcp:/tls: listen: local requests (tm.t_uac_start) still
		// need the UDP address for their Via.
		udp := first.LocalAddr()
		rt.StreamLocal = func(p core.Proto) (netip.AddrPort, bool) { return udp, p == core.UDP }
	}
	rt.Send = func(b []byte, proto core.Proto, to netip.AddrPort) error {
		if proto.IsStream() {
			return s.sendStream(b, proto, to)
		}
		if proto != core.UDP && proto != 0 {
			return fmt.Errorf("send to %s: transport %s is not served", to, proto)
		}
		if first == nil {
			return fmt.Errorf("send to %s: no udp listen", to)
		}
		return first.WriteTo(b, to)
	}
	// Replies sent later (registrar's, held for the disk) leave through
	// the socket their request came in on.
	byLocal := make(map[netip.AddrPort]*transport.UDP, len(s.conns))
	for _, c := range s.conns {
		byLocal[c.LocalAddr()] = c
	}
	rt.SendFrom = func(local netip.AddrPort, b []byte, proto core.Proto, to netip.AddrPort) error {
		if proto.IsStream() {
			return s.sendStream(b, proto, to)
		}
		if proto != core.UDP && proto != 0 {
			return fmt.Errorf("send to %s: transport %s is not served", to, proto)
		}
		c := byLocal[local]
		if c == nil {
			return fmt.Errorf("send to %s: no socket on %s", to, local)
		}
		return c.WriteTo(b, to)
	}
	return nil
}

// Addrs are the bound socket addresses (none when Offline).
func (s *Server) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, c := range s.conns {
		out = append(out, c.LocalAddr())
	}
	return out
}

// Worker builds a worker with its own VM, as if receiving on local; the
// caller feeds it messages (HandlePacket) from one goroutine and closes
// it, or leaves that to Close.
func (s *Server) Worker(local netip.AddrPort) (*router.Worker, error) {
	w, err := s.Router.NewWorker(local)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
	return w, nil
}

// Serve reads every socket with Setup.Workers readers each until ctx is
// done (nil is returned) or a socket fails (its error), then stops the
// readers and prints the counters. Close ends the rest.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.served || s.closed || s.opt.Offline {
		s.mu.Unlock()
		return errors.New("server: Serve called twice, after Close, or on an offline server")
	}
	s.served = true
	s.mu.Unlock()
	setup := s.Setup
	if err := s.startRPC(); err != nil {
		return err
	}
	defer s.stopRPC()
	if err := s.startMetrics(); err != nil {
		return err
	}
	defer s.stopMetrics()
	s.mg.Start()
	defer s.mg.Stop()
	errs := make(chan error, len(s.conns)+1)
	var wg sync.WaitGroup
	var fatal error
	var fatalOnce sync.Once
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	// newWorker builds a worker for packets or streams arriving on local.
	// A VM that builds once at check time builds again here; failing now
	// means the script's top level misbehaves, which stops the server.
	newWorker := func(local netip.AddrPort) packetStreamHandler {
		w, err := s.Worker(local)
		if err != nil {
			fatalOnce.Do(func() { fatal = fmt.Errorf("worker: %w", err) })
			cancel()
			return nopHandler{}
		}
		return w
	}
	for _, c := range s.conns {
		c := c
		local := c.LocalAddr()
		s.log.Log(core.LNotice, nil, fmt.Sprintf("kemi %s: listening on udp:%s with %d workers, engine %s, script %s",
			s.opt.Version, local, setup.Workers, setup.Engine.Name, setup.Script))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Serve(func(int) transport.Handler { return newWorker(local) })
		}()
	}
	if st := s.streams; st != nil {
		for _, l := range s.streamLs {
			s.log.Log(core.LNotice, nil, fmt.Sprintf("kemi %s: listening on %s:%s with %d workers, engine %s, script %s",
				s.opt.Version, l.Proto(), l.LocalAddr(), st.Config().Workers, setup.Engine.Name, setup.Script))
		}
		local := s.streamLs[0].LocalAddr()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.Serve(func(int) transport.StreamHandler { return newWorker(local) })
		}()
	}
	var serveErr error
	select {
	case <-stop.Done():
		if ctx.Err() != nil {
			s.log.Log(core.LNotice, nil, "kemi: "+stopReason(ctx)+", stopping")
		}
	case serveErr = <-errs:
	}
	s.closeConns()
	wg.Wait()
	if fatal != nil {
		serveErr = fatal
	}
	r := s.Router
	var streams string
	if s.streams != nil {
		streams = streamSummary(s.streams)
	}
	s.log.Log(core.LNotice, nil, fmt.Sprintf("kemi: stopped; messages %d, malformed %d, script errors %d, refused over the memory budget %d (heap peak %d MB of %d MB)%s",
		r.Received.Load(), r.Malformed.Load(), r.ScriptErrors.Load(), s.mg.Refused.Load(), s.mg.Peak()>>20, s.mg.Budget()>>20, streams))
	return serveErr
}

// stopReason is the signal that ended ctx (signal.NotifyContext names it
// in its cause), or why else it ended.
func stopReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && c != context.Canceled {
		return strings.TrimSuffix(c.Error(), " signal received")
	}
	return "stopped"
}

// Close closes the sockets and the workers and runs the modules' stop
// hooks (usrloc's flush, tm's timers). It may be called more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	workers := s.workers
	s.workers = nil
	s.mu.Unlock()
	s.closeConns()
	for _, w := range workers {
		w.Close()
	}
	s.Setup.RT.Stop()
	return nil
}

func (s *Server) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
	if s.streams != nil {
		s.streams.Close()
	}
}

// nopHandler drops what a reader gets when its worker could not be built
// (the server is stopping).
// packetStreamHandler is what a worker is: a handler of datagrams and of
// stream messages.
type packetStreamHandler interface {
	transport.Handler
	transport.StreamHandler
}

type nopHandler struct{}

func (nopHandler) HandlePacket([]byte, netip.AddrPort, transport.Writer) {}

func (nopHandler) HandleStream([]byte, *transport.Conn) {}
