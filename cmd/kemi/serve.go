package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"kemi/core/loader"
	"kemi/server"
)

// serve runs the server until SIGINT or SIGTERM. With KEMI_CPUPROFILE
// set to a file name it writes a CPU profile of the whole run there (for
// go tool pprof; the benchmarks use it to find hot spots).
func serve(opt loader.Options, stderr io.Writer) int {
	if path := os.Getenv("KEMI_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "kemi: KEMI_CPUPROFILE:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
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
	// KEMI_CPUPROFILE=FILE writes a CPU profile of the run to FILE at
	// stop (go tool pprof); for measurements, not for production.
	if path := os.Getenv("KEMI_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintln(stderr, "kemi: KEMI_CPUPROFILE:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "kemi: KEMI_CPUPROFILE:", err)
			f.Close()
		} else {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	err = s.Serve(ctx)
	s.Close()
	if err != nil {
		fmt.Fprintln(stderr, "kemi:", err)
		return 1
	}
	return 0
}
