package tlscfg

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// ParseMethod maps Kamailio's method names onto TLS versions: TLSv1.2 is
// that version only, TLSv1.2+ that version or newer; SSLv23 is any version
// crypto/tls speaks (TLS 1.0 and newer). SSLv2 and SSLv3 are refused:
// crypto/tls has neither. A zero max means no upper bound.
func ParseMethod(m string) (min, max uint16, err error) {
	s := strings.ToUpper(strings.TrimSpace(m))
	plus := strings.HasSuffix(s, "+")
	s = strings.TrimSuffix(s, "+")
	var v uint16
	switch s {
	case "SSLV23", "TLSANY", "ANY":
		return tls.VersionTLS10, 0, nil
	case "TLSV1", "TLSV1.0":
		v = tls.VersionTLS10
	case "TLSV1.1":
		v = tls.VersionTLS11
	case "TLSV1.2":
		v = tls.VersionTLS12
	case "TLSV1.3":
		v = tls.VersionTLS13
	case "SSLV2", "SSLV3":
		return 0, 0, fmt.Errorf("%s is not supported (crypto/tls speaks TLSv1 and newer)", m)
	default:
		return 0, 0, fmt.Errorf("expected SSLv23, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, each optionally with '+', got %q", m)
	}
	if plus {
		return v, 0, nil
	}
	return v, v, nil
}

// Params are the tls module's own parameters (modparam("tls", ...)): they
// make up [server:default] and [client:default] when the file has no such
// section, as in Kamailio.
type Params struct {
	Certificate, PrivateKey, CAList, CRL, CipherList, Method, ServerName string
	VerifyCertificate, RequireCertificate                                bool
	VerifyDepth                                                          int // -1 or 0: not set
	// BaseDir is the main config file's directory: relative file names
	// not starting with '.' are taken from it, as in Kamailio. Empty: the
	// tls.cfg's own directory.
	BaseDir string
}

// Configs are the crypto/tls configurations built from a File.
type Configs struct {
	servers []*built // the file's order; default last
	clients []*built
	// Warnings name options that were accepted but have no effect here.
	Warnings []string
}

type built struct {
	d   *Domain
	cfg *tls.Config
}

// Build loads every certificate, key and CA list the domains name
// (relative names are resolved as in Kamailio: see resolve; dir is the main
// config file's directory)
// and makes one tls.Config per domain:
//
//   - method: MinVersion and MaxVersion (unset: crypto/tls's defaults,
//     TLS 1.2 and newer).
//   - certificate, private_key: the certificate chain (PEM) and its key.
//     Required in a server section.
//   - ca_list (a PEM file), ca_path (a directory of PEM files): the CAs a
//     peer's certificate is verified against; without them a client uses
//     the system's roots.
//   - Server side, verify_certificate asks for a client certificate and
//     verifies it if sent; with require_certificate too, a client without
//     a valid one is refused. require_certificate alone does nothing (as
//     with OpenSSL in Kamailio). verify_client (Kamailio 5.4+) overrides:
//     on, optional, optional_no_ca (asked for, not verified), off.
//   - Client side, verify_certificate verifies the server's chain, and its
//     host name when an SNI is known (server_name, or the next hop's name);
//     off accepts any certificate.
//   - verify_depth bounds the verified chain's length.
//   - server_name: a client section's SNI; a server section is picked for
//     a handshake whose SNI equals it.
//   - cipher_list: OpenSSL names of TLS 1.2 suites are mapped onto Go's;
//     a list with anything else (HIGH, !aNULL, ...) keeps Go's defaults,
//     with a warning. TLS 1.3 suites are not configurable in Go.
//   - crl, server_name_mode, server_id: accepted; crl with a warning, as
//     it is not checked.
func Build(f *File, p Params, dir string) (*Configs, error) {
	doms := append([]*Domain(nil), f.Domains...)
	hasDef := map[Kind]bool{}
	for _, d := range doms {
		if d.Default {
			hasDef[d.Kind] = true
		}
	}
	for _, k := range []Kind{Server, Client} {
		if !hasDef[k] {
			doms = append(doms, p.domain(k))
		}
	}
	c := &Configs{}
	var errs []error
	for _, d := range doms {
		cfg, warn, err := buildDomain(d, dir)
		for _, w := range warn {
			c.Warnings = append(c.Warnings, w)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b := &built{d: d, cfg: cfg}
		if d.Kind == Server {
			c.servers = append(c.servers, b)
		} else {
			c.clients = append(c.clients, b)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func (p Params) domain(k Kind) *Domain {
	d := &Domain{Kind: k, Default: true, Pos: "modparam tls", VerifyDepth: -1, pos: map[string]string{}}
	if k == Server {
		d.Certificate, d.PrivateKey = p.Certificate, p.PrivateKey
	}
	d.CAList, d.CRL, d.CipherList, d.ServerName = p.CAList, p.CRL, p.CipherList, p.ServerName
	d.VerifyCertificate, d.RequireCertificate = p.VerifyCertificate, p.RequireCertificate
	if p.VerifyDepth > 0 {
		d.VerifyDepth = p.VerifyDepth
	}
	if p.Method != "" {
		d.Method = p.Method
		d.MinVersion, d.MaxVersion, _ = ParseMethod(p.Method)
	}
	return d
}

// resolve applies Kamailio's rule for file names: "/..." is absolute,
// "./..." (any name starting with '.') is relative to the working
// directory, anything else to dir (the main config file's directory).
func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) || path[0] == '.' || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}

func buildDomain(d *Domain, dir string) (*tls.Config, []string, error) {
	var warn []string
	fail := func(opt string, err error) (*tls.Config, []string, error) {
		return nil, warn, fmt.Errorf("%s: [%s] %s: %w", d.OptionPos(opt), d.Name(), opt, err)
	}
	cfg := &tls.Config{MinVersion: d.MinVersion, MaxVersion: d.MaxVersion}
	switch {
	case d.Certificate != "" && d.PrivateKey != "":
		cert, err := tls.LoadX509KeyPair(resolve(dir, d.Certificate), resolve(dir, d.PrivateKey))
		if err != nil {
			return fail("certificate", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case d.Certificate != "":
		// Kamailio reads the key from the certificate file when no
		// private_key is given.
		cert, err := tls.LoadX509KeyPair(resolve(dir, d.Certificate), resolve(dir, d.Certificate))
		if err != nil {
			return fail("certificate", fmt.Errorf("no private_key, and none in the certificate file: %w", err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	case d.PrivateKey != "":
		return fail("private_key", errors.New("private_key without certificate"))
	case d.Kind == Server && !d.Default:
		return fail("certificate", errors.New("a server section needs a certificate"))
	}
	var pool *x509.CertPool
	if d.CAList != "" || d.CAPath != "" {
		pool = x509.NewCertPool()
		if d.CAList != "" {
			if err := addPEM(pool, resolve(dir, d.CAList)); err != nil {
				return fail("ca_list", err)
			}
		}
		if d.CAPath != "" {
			ents, err := os.ReadDir(resolve(dir, d.CAPath))
			if err != nil {
				return fail("ca_path", err)
			}
			for _, e := range ents {
				n := e.Name()
				if e.IsDir() || !(strings.HasSuffix(n, ".pem") || strings.HasSuffix(n, ".crt") || strings.HasSuffix(n, ".0")) {
					continue
				}
				if err := addPEM(pool, filepath.Join(resolve(dir, d.CAPath), n)); err != nil {
					return fail("ca_path", err)
				}
			}
		}
	}
	if d.CipherList != "" {
		if suites, ok := cipherSuites(d.CipherList); ok {
			cfg.CipherSuites = suites
		} else {
			warn = append(warn, fmt.Sprintf("%s: [%s] cipher_list %q: not a list of OpenSSL TLS 1.2 suite names; Go's default suites are used",
				d.OptionPos("cipher_list"), d.Name(), d.CipherList))
		}
	}
	if d.CRL != "" {
		warn = append(warn, fmt.Sprintf("%s: [%s] crl %q: certificate revocation lists are not checked", d.OptionPos("crl"), d.Name(), d.CRL))
	}
	depth := d.VerifyDepth
	if d.Kind == Server {
		cfg.ServerName = d.ServerName
		cfg.ClientCAs = pool
		mode := d.VerifyClient
		if mode == "" {
			switch {
			case d.VerifyCertificate && d.RequireCertificate:
				mode = "on"
			case d.VerifyCertificate:
				mode = "optional"
			default:
				mode = "off"
			}
		}
		switch mode {
		case "on":
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		case "optional":
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		case "optional_no_ca":
			cfg.ClientAuth = tls.RequestClientCert
		}
		if depth >= 0 && cfg.ClientAuth >= tls.VerifyClientCertIfGiven {
			cfg.VerifyPeerCertificate = depthCheck(depth)
		}
		return cfg, warn, nil
	}
	cfg.ServerName = d.ServerName
	// Resumed sessions save the next handshake to the same peer most of
	// its public-key work.
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(256)
	// The chain is verified by hand, so that a connection to an IP address
	// without a name (Kamailio's usual case) verifies the chain only, and
	// one with an SNI verifies the name too.
	cfg.InsecureSkipVerify = true
	if d.VerifyCertificate {
		cfg.VerifyConnection = verifyServer(pool, depth)
	}
	return cfg, warn, nil
}

func addPEM(pool *x509.CertPool, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return nil
}

func depthCheck(depth int) func([][]byte, [][]*x509.Certificate) error {
	return func(_ [][]byte, chains [][]*x509.Certificate) error {
		for _, ch := range chains {
			if len(ch)-1 <= depth+1 {
				return nil
			}
		}
		if len(chains) == 0 {
			return nil
		}
		return fmt.Errorf("tls: certificate chain longer than verify_depth %d", depth)
	}
}

func verifyServer(roots *x509.CertPool, depth int) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		chains, err := cs.PeerCertificates[0].Verify(opts)
		if err != nil {
			return err
		}
		if depth >= 0 {
			return depthCheck(depth)(nil, chains)
		}
		return nil
	}
}

// cipherSuites maps an OpenSSL cipher list of TLS 1.2 suite names (and
// TLS 1.3 names, which are skipped) onto crypto/tls IDs.
func cipherSuites(list string) ([]uint16, bool) {
	var out []uint16
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if strings.HasPrefix(name, "TLS_") {
			continue // a TLS 1.3 suite: always on in Go
		}
		id, ok := opensslSuites[name]
		if !ok {
			return nil, false
		}
		out = append(out, id)
	}
	return out, len(out) > 0
}

var opensslSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// server picks the server domain for a connection accepted on local
// whose SNI is sni: a section for local with that server_name, a section
// for local, an any section with that server_name, a default section with
// that server_name, then the default.
func (c *Configs) server(local netip.AddrPort, sni string) *built {
	return pick(c.servers, local, sni)
}

func (c *Configs) client(remote netip.AddrPort, sni string) *built {
	return pick(c.clients, remote, sni)
}

func pick(bs []*built, addr netip.AddrPort, sni string) *built {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	var byAddr, anyName, defName, def *built
	for _, b := range bs {
		d := b.d
		switch {
		case !d.Default && !d.Any && d.Addr == addr:
			if d.matchName(sni) {
				return b
			}
			// Without a matching SNI: the first section for the address,
			// preferring one that does not name a server.
			if byAddr == nil || (byAddr.d.ServerName != "" && d.ServerName == "") {
				byAddr = b
			}
		case d.Any && d.matchName(sni) && anyName == nil:
			anyName = b
		case d.Default:
			if d.matchName(sni) {
				defName = b
			}
			if def == nil {
				def = b
			}
		}
	}
	for _, b := range []*built{byAddr, anyName, defName, def} {
		if b != nil {
			return b
		}
	}
	return nil
}

// matchName matches an SNI against server_name as server_name_mode says:
// 0 the name itself, 1 the name and its subdomains, 2 its subdomains only.
func (d *Domain) matchName(sni string) bool {
	if sni == "" || d.ServerName == "" {
		return false
	}
	sub := len(sni) > len(d.ServerName) && sni[len(sni)-len(d.ServerName)-1] == '.' &&
		strings.EqualFold(sni[len(sni)-len(d.ServerName):], d.ServerName)
	switch d.ServerNameMode {
	case 1:
		return sub || strings.EqualFold(sni, d.ServerName)
	case 2:
		return sub
	}
	return strings.EqualFold(sni, d.ServerName)
}

// ServerConfig implements transport.TLSConfigs: the config for local's
// domain, which picks again by SNI during the handshake.
func (c *Configs) ServerConfig(local netip.AddrPort) (*tls.Config, error) {
	b := c.server(local, "")
	if b == nil {
		return nil, fmt.Errorf("tls: no server domain for %s", local)
	}
	if len(b.cfg.Certificates) == 0 {
		return nil, fmt.Errorf("tls: [%s] (%s) has no certificate", b.d.Name(), b.d.Pos)
	}
	if !c.hasSNIChoice() {
		return b.cfg, nil
	}
	base := b.cfg.Clone()
	base.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if h.ServerName == "" {
			return nil, nil
		}
		if nb := c.server(local, h.ServerName); nb != nil && nb != b && len(nb.cfg.Certificates) > 0 {
			return nb.cfg, nil
		}
		return nil, nil
	}
	return base, nil
}

func (c *Configs) hasSNIChoice() bool {
	for _, b := range c.servers {
		if b.d.ServerName != "" {
			return true
		}
	}
	return false
}

// ClientConfig implements transport.TLSConfigs: the config for a
// connection to remote, whose SNI is serverName when not empty (else the
// domain's server_name).
func (c *Configs) ClientConfig(remote netip.AddrPort, serverName string) (*tls.Config, error) {
	b := c.client(remote, serverName)
	if b == nil {
		return nil, fmt.Errorf("tls: no client domain for %s", remote)
	}
	if serverName != "" && b.cfg.ServerName != serverName {
		cfg := b.cfg.Clone()
		cfg.ServerName = serverName
		return cfg, nil
	}
	return b.cfg, nil
}
