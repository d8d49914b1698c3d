// Package httpq is the HTTP client under the http_client and
// http_async_client modules: one pooled net/http Transport per module
// instance, a deadline over the whole exchange (connect, headers and body,
// so a server that trickles its answer cannot hold a caller past it), a
// cap on the body read (a hostile server cannot grow memory), redirects
// only to http and https, and URLs and header lines from the script
// checked so that nothing a caller got from the network can inject a
// header.
package httpq

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxBody caps a response body when the config sets no limit
// (Kamailio's maxdatasize 0 means unlimited; kemi does not allow that).
const DefaultMaxBody = 1 << 20

// maxHeaderBytes caps a response's header section.
const maxHeaderBytes = 64 << 10

// Options configure a Client.
type Options struct {
	Timeout   time.Duration // whole exchange; 0 means 5 s
	MaxBody   int64         // response body cap; 0 means DefaultMaxBody
	KeepConns bool          // reuse connections (keep_connections)
	Redirects bool          // follow 3xx (httpredirect), to http(s) only
	UserAgent string
	Proxy     string // http://host:port, or ""
	// TLS is the client side of https: CAs, client certificate,
	// verification (TLSConfig builds it); nil for Go's defaults.
	TLS *tls.Config
}

// TLSOptions are http_client's TLS params.
type TLSOptions struct {
	CACert     string // PEM file of the CAs that sign servers; "" for the system's
	CAPath     string // a directory of such PEM files (http_async_client's tls_ca_path)
	ClientCert string // PEM client certificate, with ClientKey
	ClientKey  string
	VerifyPeer bool // verify the server's chain
	VerifyHost bool // and that it names the URL's host
}

// TLSConfig builds the tls.Config for o; nil when o asks for Go's
// defaults (system CAs, full verification, no client certificate).
func TLSConfig(o TLSOptions) (*tls.Config, error) {
	if o.CACert == "" && o.CAPath == "" && o.ClientCert == "" && o.ClientKey == "" && o.VerifyPeer && o.VerifyHost {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	var files []string
	if o.CACert != "" {
		files = append(files, o.CACert)
	}
	if o.CAPath != "" {
		ents, err := os.ReadDir(o.CAPath)
		if err != nil {
			return nil, fmt.Errorf("CA path: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(o.CAPath, e.Name()))
			}
		}
	}
	if len(files) > 0 {
		pool := x509.NewCertPool()
		n := 0
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			if pool.AppendCertsFromPEM(pem) {
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("CA certificates %v: no PEM certificate in them", files)
		}
		c.RootCAs = pool
	}
	if o.ClientCert != "" || o.ClientKey != "" {
		if o.ClientCert == "" || o.ClientKey == "" {
			return nil, errors.New("client_cert and client_key go together")
		}
		kp, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	switch {
	case !o.VerifyPeer:
		c.InsecureSkipVerify = true
	case !o.VerifyHost:
		// The chain is verified, the host name is not (curl's
		// verify_host 0): Go has no switch for that alone.
		roots := c.RootCAs
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return c, nil
}

// Client sends requests with Options' limits; safe for concurrent use.
type Client struct {
	opt Options
	hc  *http.Client
	tr  *http.Transport
}

// New builds a Client.
func New(opt Options) (*Client, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    opt.Timeout,
		ResponseHeaderTimeout:  opt.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		DisableKeepAlives:      !opt.KeepConns,
		TLSClientConfig:        opt.TLS,
		ForceAttemptHTTP2:      false,
	}
	if opt.Proxy != "" {
		u, err := url.Parse(opt.Proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("httpproxy: expected http://host:port, got %q", opt.Proxy)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	c := &Client{opt: opt, tr: tr}
	c.hc = &http.Client{Transport: tr, Timeout: opt.Timeout, CheckRedirect: c.redirect}
	return c, nil
}

func (c *Client) redirect(req *http.Request, via []*http.Request) error {
	if !c.opt.Redirects {
		return http.ErrUseLastResponse
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %q URL refused (only http and https)", req.URL.Scheme)
	}
	if len(via) >= 10 {
		return errors.New("more than 10 redirects")
	}
	return nil
}

// Close drops the idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Timeout is the client's deadline for one exchange.
func (c *Client) Timeout() time.Duration { return c.opt.Timeout }

// Request is one HTTP request.
type Request struct {
	Method string // GET when empty
	URL    string
	Body   string
	// Hdrs are header lines, "Name: value", separated by CRLF or LF (the
	// form Kamailio's hdrs parameters take).
	Hdrs    string
	Timeout time.Duration // overrides the client's when > 0 and shorter
}

// Response is what came back.
type Response struct {
	Status int
	Reason string
	Header http.Header
	Body   []byte
}

// ErrTooLarge is returned for a body over the cap.
var ErrTooLarge = errors.New("response body over the size limit")

// CheckURL refuses what is not an absolute http or https URL, and any
// control character or space (a CRLF in a URL built from a SIP header
// would otherwise be a header injection attempt).
func CheckURL(raw string) (*url.URL, error) {
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b == 0x7f {
			return nil, fmt.Errorf("URL has a control character or space at byte %d", i)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL scheme %q refused (only http and https)", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("URL has no host")
	}
	return u, nil
}

// parseHdrs adds hdrs' lines to h.
func parseHdrs(h http.Header, hdrs string) error {
	for _, line := range strings.Split(hdrs, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return fmt.Errorf("header line %q: expected Name: value", line)
		}
		value = strings.TrimSpace(value)
		for i := 0; i < len(value); i++ {
			if b := value[i]; b < ' ' && b != '\t' || b == 0x7f {
				return fmt.Errorf("header %s has a control character", name)
			}
		}
		h.Add(name, value)
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", b) >= 0 {
			return false
		}
	}
	return true
}

// Do sends r and reads the response, within the client's deadline (or
// r's shorter one) and body cap.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	u, err := CheckURL(r.URL)
	if err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return nil, fmt.Errorf("bad method %q", method)
	}
	if r.Timeout > 0 && r.Timeout < c.opt.Timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if err := parseHdrs(req.Header, r.Hdrs); err != nil {
		return nil, err
	}
	if c.opt.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.opt.UserAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.opt.MaxBody {
		return nil, fmt.Errorf("%w: Content-Length %d, limit %d", ErrTooLarge, resp.ContentLength, c.opt.MaxBody)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.opt.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if n > c.opt.MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.opt.MaxBody)
	}
	reason := resp.Status
	if _, rest, ok := strings.Cut(reason, " "); ok {
		reason = rest
	}
	return &Response{Status: resp.StatusCode, Reason: reason, Header: resp.Header, Body: buf.Bytes()}, nil
}
