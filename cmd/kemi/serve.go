package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"kemi/core/loader"
	"kemi/server"
)

// serve runs the server until SIGINT or SIGTERM. With KEMI_CPUPROFILE
// set to a file name it writes a CPU profile of the whole run there, and
// with KEMI_MEMPROFILE an allocation profile at stop (for go tool pprof;
// the benchmarks use them to find hot spots, not for production).
func serve(opt loader.Options, stderr io.Writer) int {
	stopProfiles, err := startProfiles()
	if err != nil {
		fmt.Fprintln(stderr, "kemi:", err)
		return 1
	}
	defer stopProfiles(stderr)
	s, err := server.New(server.Options{Options: opt, Version: version})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the routing script (as app_lua.reload does); a
	// script that does not compile is refused and the running one stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if _, err := s.Reload(); err != nil {
				fmt.Fprintln(stderr, "kemi: SIGHUP:", err)
			}
		}
	}()
	err = s.Serve(ctx)
	s.Close()
	if err != nil {
		fmt.Fprintln(stderr, "kemi:", err)
		return 1
	}
	return 0
}

// startProfiles starts the CPU profile KEMI_CPUPROFILE names and sets
// up the allocation profile KEMI_MEMPROFILE names; the func it returns
// writes them.
func startProfiles() (func(io.Writer), error) {
	var cpu *os.File
	if path := os.Getenv("KEMI_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("KEMI_CPUPROFILE: %w", err)
		}
		cpu = f
	}
	memPath := os.Getenv("KEMI_MEMPROFILE")
	if memPath != "" {
		runtime.MemProfileRate = 4096
	}
	return func(stderr io.Writer) {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath == "" {
			return
		}
		f, err := os.Create(memPath)
		if err == nil {
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(stderr, "kemi: KEMI_MEMPROFILE:", err)
		}
	}, nil
}
