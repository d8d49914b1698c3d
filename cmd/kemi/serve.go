package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"kemi/core/loader"
	"kemi/server"
)

// serve runs the server until SIGINT or SIGTERM.
func serve(opt loader.Options, stderr io.Writer) int {
	s, err := server.New(server.Options{Options: opt, Version: version})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = s.Serve(ctx)
	s.Close()
	if err != nil {
		fmt.Fprintln(stderr, "kemi:", err)
		return 1
	}
	return 0
}
