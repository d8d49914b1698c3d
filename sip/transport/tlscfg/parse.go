// Package tlscfg reads Kamailio's tls.cfg file and turns it into crypto/tls
// configurations for kemi's TLS listeners and outgoing TLS connections.
//
// The file format is Kamailio's tls module's: sections name a domain,
// options follow as "name = value", '#' starts a comment.
//
//	[server:default]          # every TLS connection accepted, unless a
//	method = TLSv1.2+         # more specific section matches
//	certificate = /etc/kamailio/kamailio-selfsigned.pem
//	private_key = /etc/kamailio/kamailio-selfsigned.key
//	verify_certificate = no
//	require_certificate = no
//
//	[client:default]          # every TLS connection kemi opens
//	verify_certificate = yes
//
//	[server:10.0.0.1:5061]    # accepted on this local address
//	[client:192.0.2.7:5061]   # opened to this peer
//	[server:[2001:db8::1]:5061]
//	[client:any]              # chosen by its server_name (SNI)
//
// Options: method (SSLv23, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, each also with
// "+" for "this or newer"), certificate, private_key, ca_list, ca_path,
// verify_certificate, require_certificate, verify_depth, server_name,
// server_name_mode, server_id, cipher_list, crl, verify_client. See
// Build for how each maps onto crypto/tls, and which are only accepted.
//
// Store holds the built configurations and swaps them atomically on
// Reload, so new handshakes use new certificates without a restart; it
// implements transport.TLSConfigs.
package tlscfg

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind is the side a domain configures.
type Kind uint8

const (
	Server Kind = iota + 1 // connections kemi accepts
	Client                 // connections kemi opens
)

func (k Kind) String() string {
	if k == Server {
		return "server"
	}
	return "client"
}

// Domain is one section of the file.
type Domain struct {
	Kind Kind
	// Default is true for [server:default] and [client:default]; Any for
	// [client:any] (and [server:any]), selected by server_name only.
	Default, Any bool
	// Addr is the section's address when neither Default nor Any.
	Addr netip.AddrPort
	// Pos is "file:line" of the section header.
	Pos string

	Method             string
	MinVersion         uint16 // from Method; 0: crypto/tls's default
	MaxVersion         uint16
	Certificate        string
	PrivateKey         string
	CAList             string
	CAPath             string
	CRL                string
	VerifyCertificate  bool
	RequireCertificate bool
	VerifyDepth        int // -1: not set
	CipherList         string
	ServerName         string
	ServerNameMode     int
	ServerID           string
	VerifyClient       string

	// pos is each option's "file:line", for errors found when building.
	pos map[string]string
}

// Name is the section name as written in the file: "server:default".
func (d *Domain) Name() string {
	switch {
	case d.Default:
		return d.Kind.String() + ":default"
	case d.Any:
		return d.Kind.String() + ":any"
	}
	return d.Kind.String() + ":" + d.Addr.String()
}

// OptionPos is where an option was set, or the section's position.
func (d *Domain) OptionPos(name string) string {
	if p, ok := d.pos[name]; ok {
		return p
	}
	return d.Pos
}

// File is a parsed tls.cfg.
type File struct {
	Name    string
	Domains []*Domain
}

// Parse reads a tls.cfg. name is used in error positions ("name:line").
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name}
	var cur *Domain
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		pos := fmt.Sprintf("%s:%d", name, lineNo)
		s, err := stripComment(string(line))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", pos, err)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s[0] == '[' {
			if s[len(s)-1] != ']' {
				return nil, fmt.Errorf("%s: section header %q: expected a closing ']'", pos, s)
			}
			d, err := parseSection(s[1 : len(s)-1])
			if err != nil {
				return nil, fmt.Errorf("%s: %v", pos, err)
			}
			d.Pos = pos
			f.Domains = append(f.Domains, d)
			cur = d
			continue
		}
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("%s: expected \"option = value\" or \"[section]\", got %q", pos, s)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val, err = unquote(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", pos, key, err)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s: option %q before any section: expected [server:...] or [client:...] first", pos, key)
		}
		if err := cur.set(key, val); err != nil {
			return nil, fmt.Errorf("%s: [%s] %s: %v", pos, cur.Name(), key, err)
		}
		cur.pos[key] = pos
	}
	if err := f.checkDuplicates(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkDuplicates applies Kamailio's rule: one [server:default] and one
// [client:default]; another section may repeat (the same ADDR, or any)
// when each has its own server_name, matched against the SNI.
func (f *File) checkDuplicates() error {
	first := map[string]*Domain{}
	for _, d := range f.Domains {
		prev, dup := first[d.Name()]
		if !dup {
			first[d.Name()] = d
			continue
		}
		if d.Default {
			return fmt.Errorf("%s: section [%s] again (first at %s): there can be only one", d.Pos, d.Name(), prev.Pos)
		}
		if prev.ServerName == "" || d.ServerName == "" {
			return fmt.Errorf("%s: section [%s] again (first at %s): repeated sections need server_name in each", d.Pos, d.Name(), prev.Pos)
		}
	}
	seen := map[string]string{}
	for _, d := range f.Domains {
		if d.Default || d.ServerName == "" {
			continue
		}
		k := d.Name() + " " + strings.ToLower(d.ServerName)
		if p, dup := seen[k]; dup {
			return fmt.Errorf("%s: section [%s] with server_name %s again (first at %s)", d.Pos, d.Name(), d.ServerName, p)
		}
		seen[k] = d.Pos
	}
	return nil
}

// stripComment cuts a '#' comment that is not inside double quotes.
func stripComment(s string) (string, error) {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			in = !in
		case '\\':
			if in {
				i++
			}
		case '#':
			if !in {
				return s[:i], nil
			}
		}
	}
	if in {
		return "", fmt.Errorf("unterminated quoted string")
	}
	return s, nil
}

func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		u, err := strconv.Unquote(v)
		if err != nil {
			return "", fmt.Errorf("bad quoted value %s", v)
		}
		return u, nil
	}
	if strings.ContainsRune(v, '"') {
		return "", fmt.Errorf("stray '\"' in value %q", v)
	}
	return v, nil
}

func parseSection(s string) (*Domain, error) {
	kind, addr, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return nil, fmt.Errorf("section [%s]: expected [server:ADDR] or [client:ADDR] (ADDR is default, any, or IP:PORT)", s)
	}
	d := &Domain{VerifyDepth: -1, pos: map[string]string{}}
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "server":
		d.Kind = Server
	case "client":
		d.Kind = Client
	default:
		return nil, fmt.Errorf("section [%s]: expected server or client before ':', got %q", s, kind)
	}
	addr = strings.TrimSpace(addr)
	switch strings.ToLower(addr) {
	case "default":
		d.Default = true
		return d, nil
	case "any":
		d.Any = true
		return d, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		// An IPv6 address without brackets: the port follows the last ':'.
		if i := strings.LastIndexByte(addr, ':'); i > 0 && strings.Count(addr, ":") > 1 && addr[0] != '[' {
			if a, err2 := netip.ParseAddr(addr[:i]); err2 == nil {
				if p, err3 := strconv.ParseUint(addr[i+1:], 10, 16); err3 == nil {
					ap, err = netip.AddrPortFrom(a, uint16(p)), nil
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("section [%s]: expected default, any or IP:PORT after %s:, got %q", s, kind, addr)
	}
	d.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return d, nil
}

func (d *Domain) set(key, val string) error {
	var err error
	switch key {
	case "method", "tls_method":
		d.MinVersion, d.MaxVersion, err = ParseMethod(val)
		d.Method = val
	case "certificate":
		d.Certificate = val
	case "private_key":
		d.PrivateKey = val
	case "ca_list":
		d.CAList = val
	case "ca_path":
		d.CAPath = val
	case "crl":
		d.CRL = val
	case "verify_certificate":
		d.VerifyCertificate, err = parseBool(val)
	case "require_certificate":
		d.RequireCertificate, err = parseBool(val)
	case "verify_depth":
		d.VerifyDepth, err = parseInt(val, 0, 100)
	case "cipher_list":
		d.CipherList = val
	case "server_name":
		d.ServerName = val
	case "server_name_mode":
		d.ServerNameMode, err = parseInt(val, 0, 10)
	case "server_id":
		d.ServerID = val
	case "verify_client":
		switch strings.ToLower(val) {
		case "off", "on", "optional", "optional_no_ca":
			d.VerifyClient = strings.ToLower(val)
		default:
			err = fmt.Errorf("expected off, on, optional or optional_no_ca, got %q", val)
		}
	default:
		return fmt.Errorf("unknown option (expected one of method, certificate, private_key, ca_list, ca_path, crl, verify_certificate, require_certificate, verify_depth, cipher_list, server_name, server_name_mode, server_id, verify_client)")
	}
	return err
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1", "enable", "enabled":
		return true, nil
	case "no", "false", "off", "0", "disable", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("expected yes or no, got %q", v)
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("expected a number %d..%d, got %q", lo, hi, v)
	}
	return n, nil
}
