package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"kemi"
)

const docsUsage = `usage: kemi docs [-l ADDR:PORT]

Serves the KSR reference built into this binary (every function, param and
pseudo-variable of the modules it was built with, with search) over HTTP
until interrupted. It binds 127.0.0.1:8080 unless -l says otherwise; it
serves only GET and HEAD of the reference's own files.
`

// docsMaxURL is the longest request line path served; the reference's own
// URLs are a few dozen bytes.
const docsMaxURL = 1024

// docsCmd runs `kemi docs`.
func docsCmd(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("kemi docs", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, docsUsage) }
	addr := fset.String("l", "127.0.0.1:8080", "address to serve on (ADDR:PORT; port 0 picks a free one)")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "kemi docs: unexpected argument %q\n%s", fset.Arg(0), docsUsage)
		return 2
	}
	h, err := docsHandler()
	if err != nil {
		fmt.Fprintln(stderr, "kemi docs:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "kemi docs: -l %s: %v\n", *addr, err)
		return 1
	}
	ln = &limitListener{Listener: ln, sem: make(chan struct{}, docsMaxConns)}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "kemi docs: serving the KSR reference on http://%s/\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "kemi docs:", err)
		return 1
	}
	return 0
}

// docsMaxConns is how many connections `kemi docs` holds at a time; more
// wait in the listen queue, so a flood of idle connections cannot grow
// memory without bound (each is also closed after ReadHeaderTimeout).
const docsMaxConns = 64

// limitListener accepts at most cap(sem) connections at a time: Accept
// waits until one is closed (x/net/netutil's LimitListener, without the
// dependency).
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, sem: l.sem}, nil
}

type limitConn struct {
	net.Conn
	sem  chan struct{}
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.sem })
	return err
}

// docsHandler serves the embedded reference. It refuses what a browser
// following the reference's links never sends: methods other than GET and
// HEAD, paths with dot segments, backslashes, NULs or escapes, and long
// URLs; everything else is a file of the embedded site or a 404.
func docsHandler() (http.Handler, error) {
	site, err := fs.Sub(kemi.Reference, kemi.ReferenceDir)
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(site, "index.html"); err != nil {
		return nil, fmt.Errorf("the reference is not embedded in this binary: %w", err)
	}
	files := http.FileServer(http.FS(site))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hdr.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hdr.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		raw := r.URL.EscapedPath()
		if len(r.RequestURI) > docsMaxURL {
			http.Error(w, "URL too long", http.StatusRequestURITooLong)
			return
		}
		if !cleanDocsPath(raw) {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		if raw == "/index.html" {
			// http.FileServer redirects it to "/"; serve it as named.
			r.URL.Path = "/"
		}
		files.ServeHTTP(w, r)
	}), nil
}

// cleanDocsPath accepts "/" and "/name.ext": the reference is one flat
// folder of files named with letters, digits, '_', '-' and '.', and no
// name starts with a dot.
func cleanDocsPath(p string) bool {
	if p == "/" {
		return true
	}
	name, ok := strings.CutPrefix(p, "/")
	if !ok || name == "" || name[0] == '.' || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
