package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"kemi/core"
	"kemi/core/config"
	"kemi/core/loader"
	"kemi/core/router"
	"kemi/sip/transport"
	"kemi/sip/transport/tlscfg"
)

// streamParams are the core parameters the stream transports take
// (transport.StreamConfig.SetParam); tcp_children is Workers.
var streamParams = []string{
	"tcp_connection_lifetime", "tcp_connection_max_lifetime", "tcp_msg_read_timeout",
	"tcp_msg_data_timeout", "tcp_max_connections", "tls_max_connections",
	"tcp_connect_timeout", "tcp_send_timeout", "tcp_accept_no_cl", "tcp_crlf_ping",
	"tcp_max_message_size", "tcp_conn_wq_max", "tcp_children",
}

// paramText is a global's value as written, for SetParam.
func paramText(v core.Value) string {
	switch v.Kind {
	case core.KBool:
		if v.I != 0 {
			return "yes"
		}
		return "no"
	case core.KInt:
		return strconv.FormatInt(v.I, 10)
	}
	return v.S
}

// listenStreams binds the tcp: and tls: sockets of setup.Listens into one
// Streams (nil when there are none), configured from the core tcp_* and
// tls_* parameters, and with the tls module's tls.cfg when a tls: socket
// is asked for. Every error names the config line or flag at fault.
func listenStreams(setup *loader.Setup, cfgFile string) (*transport.Streams, []*transport.StreamListener, *tlscfg.Store, error) {
	var want []config.Listen
	hasTLS := false
	for _, l := range setup.Listens {
		switch l.Proto {
		case "tcp":
		case "tls":
			hasTLS = true
		default:
			continue
		}
		want = append(want, l)
	}
	if len(want) == 0 {
		return nil, nil, nil, nil
	}
	cfg := transport.StreamConfig{Workers: setup.Workers}
	for _, name := range streamParams {
		v, ok := setup.Config.Global(name)
		if !ok {
			continue
		}
		if _, err := cfg.SetParam(name, paramText(v)); err != nil {
			return nil, nil, nil, fmt.Errorf("config: %w", err)
		}
	}
	var store *tlscfg.Store
	if hasTLS {
		var err error
		if store, err = loadTLS(setup, cfgFile); err != nil {
			return nil, nil, nil, err
		}
		cfg.TLS = store
	}
	st, err := transport.NewStreams(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("stream transports: %w", err)
	}
	var ls []*transport.StreamListener
	for _, l := range want {
		p := transport.TCP
		if l.Proto == "tls" {
			p = transport.TLS
		}
		addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
		ln, err := st.Listen(p, addr)
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("%s: listen %s %s: %w", listenPos(l), l.Proto, addr, err)
		}
		ls = append(ls, ln)
	}
	return st, ls, store, nil
}

// ReloadTLS reads the tls module's tls.cfg and every certificate, key
// and CA list again (Kamailio's tls.reload): new handshakes use them,
// open connections go on. On an error the current ones stay and the
// error says where. It fails when no tls: socket is served.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return fmt.Errorf("tls.reload: no tls: listen is served")
	}
	if err := s.tls.Reload(); err != nil {
		return fmt.Errorf("tls.reload: %w", err)
	}
	return nil
}

// tlsInfo is tls.info: the TLS connection limit and how many are open.
func (s *Server) tlsInfo() core.TLSInfo {
	if s.streams == nil {
		return core.TLSInfo{}
	}
	return core.TLSInfo{MaxConnections: s.streams.Config().MaxTLS,
		OpenedConnections: s.streams.Stats.OpenTLS.Load()}
}

// tlsList is tls.list: the open TLS connections.
func (s *Server) tlsList() []core.TLSConnInfo {
	out := []core.TLSConnInfo{}
	if s.streams == nil {
		return out
	}
	now := time.Now()
	idle := s.streams.Config().IdleTimeout
	s.streams.Each(func(c *transport.Conn) {
		if c.Proto() != transport.TLS || c.Closed() {
			return
		}
		r, l := c.RemoteAddr(), c.LocalAddr()
		row := core.TLSConnInfo{ID: c.ID(), Created: c.Opened().UTC().Format(time.RFC1123),
			Idle: int(now.Sub(c.LastIO()) / time.Second), SrcIP: r.Addr().String(), SrcPort: int(r.Port()),
			DstIP: l.Addr().String(), DstPort: int(l.Port()), State: "established"}
		if idle > 0 {
			row.Timeout = int((idle - now.Sub(c.LastIO())) / time.Second)
		}
		if st, ok := c.TLSState(); ok {
			if !st.HandshakeComplete {
				row.State = "connecting"
			}
			row.Cipher = tls.CipherSuiteName(st.CipherSuite)
		}
		if c.Outgoing() {
			row.Flags = "out"
		} else {
			row.Flags = "in"
		}
		out = append(out, row)
	})
	return out
}

// listenPos names where a listen came from: its config line, or -l.
func listenPos(l config.Listen) string {
	if l.Pos.Line == 0 {
		return "-l"
	}
	return l.Pos.String()
}

// loadTLS reads the tls module's configuration, as Kamailio needs it for
// a tls: socket: enable_tls=yes, loadmodule "tls.so", and its params
// (config: the tls.cfg file; certificate, private_key, ... for the
// default domains when the file has none).
func loadTLS(setup *loader.Setup, cfgFile string) (*tlscfg.Store, error) {
	rt := setup.RT
	if v, ok := setup.Config.Global("enable_tls"); !ok || !v.Truth() {
		return nil, fmt.Errorf("a tls: listen needs enable_tls=yes (and loadmodule \"tls.so\"), as in Kamailio")
	}
	if v, ok := setup.Config.Global("disable_tls"); ok && v.Truth() {
		return nil, fmt.Errorf("a tls: listen with disable_tls=yes: TLS is switched off")
	}
	if rt.Reg.Module("tls") == nil {
		return nil, fmt.Errorf("enable_tls=yes needs loadmodule \"tls.so\" for its certificates, as in Kamailio")
	}
	str := func(n string) string { return rt.Param("tls", n).S }
	flag := func(n string) bool { return rt.Param("tls", n).Truth() }
	p := tlscfg.Params{
		Certificate:        str("certificate"),
		PrivateKey:         str("private_key"),
		CAList:             str("ca_list"),
		CRL:                str("crl"),
		CipherList:         str("cipher_list"),
		Method:             str("tls_method"),
		ServerName:         str("server_name"),
		VerifyCertificate:  flag("verify_certificate"),
		RequireCertificate: flag("require_certificate"),
		VerifyDepth:        int(rt.Param("tls", "verify_depth").I),
	}
	if cfgFile != "" {
		p.BaseDir = filepath.Dir(cfgFile)
	}
	cfgPath := str("config")
	if cfgPath != "" && !filepath.IsAbs(cfgPath) && cfgPath[0] != '.' && p.BaseDir != "" {
		cfgPath = filepath.Join(p.BaseDir, cfgPath)
	}
	store, err := tlscfg.Load(cfgPath, p)
	if err != nil {
		return nil, fmt.Errorf("modparam(\"tls\", \"config\", %q): %w", str("config"), err)
	}
	for _, w := range store.Current().Warnings {
		rt.Log.Log(core.LWarn, nil, "tls: "+w)
	}
	return store, nil
}

// sendStream sends outside a worker (timers, held replies) over TCP or
// TLS, on an open connection to the address or a new one.
func (s *Server) sendStream(b []byte, proto core.Proto, to netip.AddrPort) error {
	return router.SendStream(s.streams, b, proto, to, transport.SendOptions{})
}

// wireStreams gives the runtime its stream sender and local addresses.
func (s *Server) wireStreams(rt *core.Runtime) {
	if s.streams == nil {
		return
	}
	st := s.streams
	rt.SendStream = func(b []byte, proto core.Proto, to netip.AddrPort, o core.SendOpts) error {
		return router.SendStream(st, b, proto, to, transport.SendOptions{
			ConnID: o.ConnID, NoConnect: o.NoConnect, CloseAfter: o.CloseAfter, ServerName: o.ServerName})
	}
	rt.StreamConn = func(id uint64) core.StreamConn {
		if c := st.Conn(id); c != nil && !c.Closed() {
			return c
		}
		return nil
	}
	rt.AddConnAlias = func(id uint64, addr netip.AddrPort) bool {
		c := st.Conn(id)
		if c == nil || c.Closed() {
			return false
		}
		return st.AddAlias(c, addr)
	}
	local := map[core.Proto]netip.AddrPort{}
	if len(s.conns) > 0 {
		local[core.UDP] = s.conns[0].LocalAddr()
	}
	for _, l := range s.streamLs {
		// WebSocket shares the TCP and TLS listens.
		p, wp := core.TCP, core.WS
		if l.Proto() == transport.TLS {
			p, wp = core.TLS, core.WSS
		}
		for _, p := range []core.Proto{p, wp} {
			if _, ok := local[p]; !ok {
				local[p] = l.LocalAddr()
			}
		}
	}
	rt.StreamLocal = func(p core.Proto) (netip.AddrPort, bool) {
		a, ok := local[p]
		return a, ok
	}
}

// StreamAddrs are the bound TCP and TLS socket addresses, in listen order.
func (s *Server) StreamAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, l := range s.streamLs {
		out = append(out, l.LocalAddr())
	}
	return out
}

// Streams is the server's TCP and TLS transport, nil without a tcp: or
// tls: listen.
func (s *Server) Streams() *transport.Streams { return s.streams }

// streamSummary is the stream counters for the stop line: how many
// connections came and why they ended.
func streamSummary(st *transport.Streams) string {
	c := &st.Stats
	return fmt.Sprintf("; streams: accepted %d, opened %d, messages %d, closed by peer %d, idle %d, slow %d, silent %d, too big %d, bad content-length %d, no content-length %d, handshake %d, refused at the limit %d; http refused %d; websocket upgrades %d, bad frames %d, unanswered pings %d",
		c.Accepted.Load(), c.Opened.Load(), c.Received.Load(), c.ClosedByPeer.Load(), c.ClosedIdle.Load(), c.ClosedSlow.Load(),
		c.ClosedSilent.Load(), c.ClosedTooBig.Load(), c.ClosedBadCL.Load(), c.ClosedNoCL.Load(), c.ClosedHandshake.Load(), c.RefusedMax.Load(),
		c.ClosedHTTP.Load(), c.Upgraded.Load(), c.ClosedBadFrame.Load(), c.ClosedNoPong.Load())
}

// offlineStreams lets an offline server (kemi test) send over TCP and TLS
// too: what tm or forward send there goes to out, and the Via names the
// config's tcp:/tls: listen (or the first listen).
func offlineStreams(rt *core.Runtime, setup *loader.Setup, out func(b []byte, proto core.Proto, to netip.AddrPort)) {
	rt.SendStream = func(b []byte, proto core.Proto, to netip.AddrPort, _ core.SendOpts) error {
		if out != nil {
			out(append([]byte(nil), b...), proto, to)
		}
		return nil
	}
	local := map[core.Proto]netip.AddrPort{}
	for _, l := range setup.Listens {
		a, err := netip.ParseAddr(l.Host)
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(a, uint16(l.Port))
		for _, p := range []core.Proto{core.UDP, core.TCP, core.TLS, core.WS, core.WSS} {
			lp := l.Proto
			switch {
			case lp == "tcp" && p == core.WS, lp == "tls" && p == core.WSS:
				lp = p.String() // WebSocket shares the TCP and TLS listens
			}
			if _, ok := local[p]; !ok && (lp == p.String() || (lp == "" && p == core.UDP)) {
				local[p] = ap
			}
		}
	}
	if first, ok := local[core.UDP]; ok {
		for _, p := range []core.Proto{core.TCP, core.TLS, core.WS, core.WSS} {
			if _, ok := local[p]; !ok {
				local[p] = first
			}
		}
	}
	rt.StreamLocal = func(p core.Proto) (netip.AddrPort, bool) {
		a, ok := local[p]
		return a, ok
	}
}
