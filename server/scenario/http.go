package scenario

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// httpServer is a scenario's HTTP server on 127.0.0.1.
type httpServer struct {
	srv  *http.Server
	addr string // host:port it listens on
	down string // host:port nothing listens on
	stop chan struct{}
}

// startHTTP serves answers until close.
func startHTTP(answers []HTTPAnswer) (*httpServer, error) {
	mux := http.NewServeMux()
	h := &httpServer{stop: make(chan struct{})}
	for _, a := range answers {
		a := a
		delay, err := parseDur(a.Delay)
		if err != nil {
			return nil, fmt.Errorf("http %s: delay: %v", a.Path, err)
		}
		trickle, err := parseDur(a.Trickle)
		if err != nil {
			return nil, fmt.Errorf("http %s: trickle: %v", a.Path, err)
		}
		mux.HandleFunc(a.Path, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(delay):
			case <-h.stop:
				return
			case <-r.Context().Done():
				return
			}
			for _, line := range a.Headers {
				if n, v, ok := strings.Cut(line, ":"); ok {
					w.Header().Add(strings.TrimSpace(n), strings.TrimSpace(v))
				}
			}
			status := a.Status
			if status == 0 {
				status = 200
			}
			w.WriteHeader(status)
			body := a.Body
			if a.Repeat > 1 {
				body = strings.Repeat(body, a.Repeat)
			}
			if trickle <= 0 {
				w.Write([]byte(body))
				return
			}
			f, _ := w.(http.Flusher)
			for i := 0; i < len(body); i++ {
				if _, err := w.Write([]byte{body[i]}); err != nil {
					return
				}
				if f != nil {
					f.Flush()
				}
				select {
				case <-time.After(trickle):
				case <-h.stop:
					return
				case <-r.Context().Done():
					return
				}
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// A port nothing listens on: one just closed.
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, err
	}
	h.down = dl.Addr().String()
	dl.Close()
	h.addr = ln.Addr().String()
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go h.srv.Serve(ln)
	return h, nil
}

func (h *httpServer) close() {
	close(h.stop)
	h.srv.Close()
}

func parseDur(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}
