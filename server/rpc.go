package server

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kemi/core"
	"kemi/server/jsonrpc"
)

// control fills the runtime's Control (what the core.* and app_*.reload
// RPC methods ask the server) and builds the method registry.
func (s *Server) control() {
	rt := s.Setup.RT
	rt.Control = &core.Control{
		Started: time.Now(),
		Config:  s.opt.Path,
		Script:  s.Setup.Script,
		Engine:  s.Setup.Engine.Module,
		Procs:   s.procs,
		Reload:  s.Reload,

		ReloadTLS: s.ReloadTLS,
		TLSInfo:   s.tlsInfo,
		TLSList:   s.tlsList,
	}
	s.rpc = jsonrpc.New(rt)
	rt.Control.RPC = s.rpc.Handle
	rt.Control.Metrics = s.writeMetrics
}

// RPC is the server's JSON-RPC method registry, set by New (offline too,
// for tests); Serve puts it on the control socket.
func (s *Server) RPC() *jsonrpc.Methods { return s.rpc }

func (s *Server) procs() []core.Proc {
	pid := os.Getpid()
	out := []core.Proc{{Index: 0, PID: pid, Desc: "main process - attendant"}}
	for _, c := range s.conns {
		for i := 0; i < s.Setup.Workers; i++ {
			out = append(out, core.Proc{Index: len(out), PID: pid,
				Desc: fmt.Sprintf("udp receiver child=%d sock=udp:%s", i, c.LocalAddr())})
		}
	}
	if s.dgram != nil {
		out = append(out, core.Proc{Index: len(out), PID: pid, Desc: "JSONRPCS DATAGRAM " + s.dgram.Path()})
	}
	if s.fifo != nil {
		out = append(out, core.Proc{Index: len(out), PID: pid, Desc: "JSONRPCS FIFO"})
	}
	return out
}

// Reload compiles the running script's file again. When it compiles and
// defines the request callback, every worker runs it from its next
// message with fresh globals, and transactions in flight run the new
// script's failure and reply routes by name. Otherwise the running
// script stays and the error says file:line.
func (s *Server) Reload() (core.ReloadInfo, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	setup := s.Setup
	var src []byte
	var err error
	if s.opt.FS != nil {
		src, err = fs.ReadFile(s.opt.FS, strings.TrimPrefix(setup.Script, "/"))
	} else {
		src, err = os.ReadFile(setup.Script)
	}
	if err != nil {
		return core.ReloadInfo{}, fmt.Errorf("reload: reading the script: %w; the running script stays", err)
	}
	prog, err := setup.Engine.Engine.Compile(setup.Script, src, setup.RT)
	if err != nil {
		return core.ReloadInfo{}, fmt.Errorf("reload refused, the running script stays: %w", err)
	}
	// A VM must build (the script's top level runs) before workers get it.
	vm, err := prog.NewVM()
	if err != nil {
		return core.ReloadInfo{}, fmt.Errorf("reload refused, the running script stays: %w", err)
	}
	vm.Close()
	if err := s.Router.Swap(prog); err != nil {
		return core.ReloadInfo{}, fmt.Errorf("reload refused, the running script stays: %s: %w", setup.Script, err)
	}
	setup.Program = prog
	info := core.ReloadInfo{Script: setup.Script, Generation: s.Router.Generation()}
	s.log.Log(core.LNotice, nil, fmt.Sprintf("kemi: reloaded %s (generation %d)", setup.Script, info.Generation))
	return info, nil
}

// startRPC opens the control transports: the datagram socket (on by
// default) and the FIFO when fifo_name is set. A default socket that
// another kemi holds is skipped with a warning; one given in the config
// that cannot be bound is an error.
func (s *Server) startRPC() error {
	rt := s.Setup.RT
	param := func(name string) core.Value { return rt.Param("jsonrpcs", name) }
	mode := func(name string, def os.FileMode) os.FileMode {
		if v := param(name); v.Kind == core.KInt && v.I > 0 {
			return os.FileMode(v.I) & 0o777
		}
		return def
	}
	transport := int64(0)
	if v := param("transport"); v.Kind == core.KInt {
		transport = v.I
	}
	sock := param("dgram_socket").String()
	if param("dgram_socket").Kind != core.KStr {
		sock = ""
	}
	explicit := sock != ""
	if transport == 0 || transport&4 != 0 {
		if sock != "off" {
			if sock == "" {
				sock = jsonrpc.DefaultSocket()
			} else if !filepath.IsAbs(sock) {
				sock = filepath.Join(jsonrpc.DefaultRunDir(), sock)
			}
			d, err := jsonrpc.ListenDgram(s.rpc, sock, mode("dgram_mode", 0o660))
			switch {
			case err == nil:
				s.dgram = d
				go d.Serve()
				s.log.Log(core.LNotice, nil, "kemi: RPC on unixgram:"+sock+" (kemi rpc METHOD)")
			case explicit:
				return err
			default:
				s.log.Log(core.LWarn, nil, "kemi: no RPC socket: "+err.Error()+"; set modparam(\"jsonrpcs\", \"dgram_socket\", PATH)")
			}
		}
	}
	if name := param("fifo_name"); name.Kind == core.KStr && name.S != "" && (transport == 0 || transport&2 != 0) {
		p := name.S
		if !filepath.IsAbs(p) {
			p = filepath.Join(jsonrpc.DefaultRunDir(), p)
		}
		dir := param("fifo_reply_dir").String()
		f, err := jsonrpc.ListenFifo(s.rpc, p, dir, mode("fifo_mode", 0o660))
		if err != nil {
			s.stopRPC()
			return err
		}
		s.fifo = f
		go f.Serve()
	}
	return nil
}

func (s *Server) stopRPC() {
	if s.dgram != nil {
		s.dgram.Close()
		s.dgram = nil
	}
	if s.fifo != nil {
		s.fifo.Close()
		s.fifo = nil
	}
}
