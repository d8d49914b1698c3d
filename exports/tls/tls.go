// Package tls is Kamailio's tls module for kemi: its params configure the
// server's TLS listens (server/streams.go reads them into
// sip/transport/tlscfg), and its function and pseudo-variables describe
// the TLS connection a message came on.
package tls

import (
	"bytes"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kemi/core"
)

// state is the TLS state of ctx's connection; false for UDP and TCP.
func state(ctx *core.Ctx) (cryptotls.ConnectionState, bool) {
	if ctx.Conn == nil {
		return cryptotls.ConnectionState{}, false
	}
	return ctx.Conn.TLSState()
}

// verified reports whether the peer presented a certificate that was
// verified (crypto/tls keeps the chains it verified).
func verified(st *cryptotls.ConnectionState) bool {
	return len(st.PeerCertificates) > 0 && len(st.VerifiedChains) > 0
}

// IsPeerVerified is KSR.tls.is_peer_verified.
func IsPeerVerified(ctx *core.Ctx) int {
	if st, ok := state(ctx); ok && verified(&st) {
		return 1
	}
	return -1
}

func getVersion(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok {
		return dst, false
	}
	switch st.Version {
	case cryptotls.VersionTLS13:
		return append(dst, "TLSv1.3"...), true
	case cryptotls.VersionTLS12:
		return append(dst, "TLSv1.2"...), true
	case cryptotls.VersionTLS11:
		return append(dst, "TLSv1.1"...), true
	case cryptotls.VersionTLS10:
		return append(dst, "TLSv1"...), true
	}
	return append(dst, cryptotls.VersionName(st.Version)...), true
}

func getCipher(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok {
		return dst, false
	}
	return append(dst, cryptotls.CipherSuiteName(st.CipherSuite)...), true
}

func getServerName(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok || st.ServerName == "" {
		return dst, false
	}
	return append(dst, st.ServerName...), true
}

func getPeerSubject(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok || len(st.PeerCertificates) == 0 {
		return dst, false
	}
	return appendOneline(dst, st.PeerCertificates[0].RawSubject), true
}

func getPeerIssuer(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok || len(st.PeerCertificates) == 0 {
		return dst, false
	}
	return appendOneline(dst, st.PeerCertificates[0].RawIssuer), true
}

func getPeerSubjectCN(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName == "" {
		return dst, false
	}
	return append(dst, st.PeerCertificates[0].Subject.CommonName...), true
}

func getPeerVerified(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st, ok := state(ctx)
	if !ok {
		return dst, false
	}
	if verified(&st) {
		return append(dst, '1'), true
	}
	return append(dst, '0'), true
}

// shortNames are OpenSSL's short names of the usual name attributes.
var shortNames = map[string]string{
	"2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.3": "CN", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode",
	"2.5.4.12": "title", "2.5.4.42": "GN", "2.5.4.4": "SN", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "emailAddress",
}

// appendOneline writes a DER name as OpenSSL's X509_NAME_oneline does
// (Kamailio's $tls_peer_subject): "/TYPE=value" per attribute, in the
// certificate's order.
func appendOneline(dst, raw []byte) []byte {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return dst
	}
	for _, rdn := range seq {
		for _, atv := range rdn {
			dst = append(dst, '/')
			if n, ok := shortNames[atv.Type.String()]; ok {
				dst = append(dst, n...)
			} else {
				dst = append(dst, atv.Type.String()...)
			}
			dst = append(dst, '=')
			switch v := atv.Value.(type) {
			case string:
				dst = append(dst, v...)
			default:
				dst = strconv.AppendQuote(dst, "?")
			}
		}
	}
	return dst
}

// CGet is KSR.tls.cget(name): the $tls_* variable called name (without
// the $) as Kamailio's ki_tls_cget returns it: an int for the numeric
// attributes, a string for the others, "" when the message did not come
// over TLS, the value is missing, or the name is unknown.
func CGet(ctx *core.Ctx, name string) core.Value {
	st, ok := state(ctx)
	if !ok {
		if _, known := cgetNames[name]; !known {
			ctx.Log(core.LWarn, "tls.cget: unknown attribute "+strconv.Quote(name)+"\n")
		}
		return core.Str("")
	}
	v, known := cget(&st, name)
	if !known {
		ctx.Log(core.LWarn, "tls.cget: unknown attribute "+strconv.Quote(name)+"\n")
	}
	return v
}

// cgetNames are the attribute names CGet knows (Kamailio's tls_pv list,
// less the indexed $tls_*_san_* ones, which cget refuses there too).
var cgetNames = map[string]struct{}{}

func init() {
	for _, n := range []string{"tls_version", "tls_description", "tls_cipher_info", "tls_cipher_bits",
		"tls_peer_raw_cert", "tls_my_raw_cert", "tls_peer_urlencoded_cert", "tls_my_urlencoded_cert",
		"tls_peer_version", "tls_my_version", "tls_peer_serial", "tls_my_serial",
		"tls_peer_subject", "tls_peer_issuer", "tls_my_subject", "tls_my_issuer",
		"tls_peer_verified", "tls_peer_revoked", "tls_peer_expired", "tls_peer_selfsigned",
		"tls_peer_notBefore", "tls_peer_notAfter", "tls_peer_server_name"} {
		cgetNames[n] = struct{}{}
	}
	for _, who := range []string{"peer", "my"} {
		for _, part := range []string{"subject", "issuer"} {
			for _, c := range []string{"cn", "locality", "country", "state", "organization", "unit"} {
				cgetNames["tls_"+who+"_"+part+"_"+c] = struct{}{}
			}
		}
		cgetNames["tls_"+who+"_subject_uid"] = struct{}{}
	}
}

// nameParts maps cget's component suffixes to the attribute OIDs.
var nameParts = map[string]string{
	"cn": "2.5.4.3", "locality": "2.5.4.7", "country": "2.5.4.6", "state": "2.5.4.8",
	"organization": "2.5.4.10", "unit": "2.5.4.11", "uid": "0.9.2342.19200300.100.1.1",
}

func cget(st *cryptotls.ConnectionState, name string) (core.Value, bool) {
	if _, ok := cgetNames[name]; !ok {
		return core.Str(""), false
	}
	var peer *x509.Certificate
	if len(st.PeerCertificates) > 0 {
		peer = st.PeerCertificates[0]
	}
	switch name {
	case "tls_version":
		b, _ := versionName(st.Version)
		return core.Str(b), true
	case "tls_cipher_info":
		return core.Str(cryptotls.CipherSuiteName(st.CipherSuite)), true
	case "tls_description":
		v, _ := versionName(st.Version)
		return core.Str(cryptotls.CipherSuiteName(st.CipherSuite) + " " + v), true
	case "tls_cipher_bits":
		return core.Int(int64(cipherBits(st.CipherSuite))), true
	case "tls_peer_server_name":
		return core.Str(st.ServerName), true
	case "tls_peer_verified":
		if verified(st) {
			return core.Int(1), true
		}
		return core.Int(0), true
	}
	// The local certificate: crypto/tls's ConnectionState does not carry
	// it, so tls_my_* are "" (a documented difference).
	if strings.HasPrefix(name, "tls_my_") || peer == nil {
		return core.Str(""), true
	}
	switch name {
	case "tls_peer_raw_cert":
		return core.Str(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Raw}))), true
	case "tls_peer_urlencoded_cert":
		return core.Str(url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Raw})))), true
	case "tls_peer_version":
		return core.Int(int64(peer.Version - 1)), true // OpenSSL's X509_get_version: 2 for v3
	case "tls_peer_serial":
		if peer.SerialNumber != nil && peer.SerialNumber.IsInt64() {
			return core.Int(peer.SerialNumber.Int64()), true
		}
		return core.Int(-1), true // ASN1_INTEGER_get's answer for a serial too long
	case "tls_peer_subject":
		return core.Str(string(appendOneline(nil, peer.RawSubject))), true
	case "tls_peer_issuer":
		return core.Str(string(appendOneline(nil, peer.RawIssuer))), true
	case "tls_peer_revoked":
		return core.Int(0), true // crl is not checked
	case "tls_peer_expired":
		if time.Now().After(peer.NotAfter) {
			return core.Int(1), true
		}
		return core.Int(0), true
	case "tls_peer_selfsigned":
		if bytes.Equal(peer.RawSubject, peer.RawIssuer) && peer.CheckSignatureFrom(peer) == nil {
			return core.Int(1), true
		}
		return core.Int(0), true
	case "tls_peer_notBefore":
		return core.Str(asn1Time(peer.NotBefore)), true
	case "tls_peer_notAfter":
		return core.Str(asn1Time(peer.NotAfter)), true
	}
	// tls_peer_{subject,issuer}_PART
	rest := strings.TrimPrefix(name, "tls_peer_")
	raw := peer.RawSubject
	if strings.HasPrefix(rest, "issuer_") {
		raw, rest = peer.RawIssuer, strings.TrimPrefix(rest, "issuer_")
	} else {
		rest = strings.TrimPrefix(rest, "subject_")
	}
	return core.Str(namePart(raw, nameParts[rest])), true
}

// versionName is the protocol version as OpenSSL names it.
func versionName(v uint16) (string, bool) {
	switch v {
	case cryptotls.VersionTLS13:
		return "TLSv1.3", true
	case cryptotls.VersionTLS12:
		return "TLSv1.2", true
	case cryptotls.VersionTLS11:
		return "TLSv1.1", true
	case cryptotls.VersionTLS10:
		return "TLSv1", true
	}
	return cryptotls.VersionName(v), false
}

// cipherBits is the symmetric key size of a cipher suite.
func cipherBits(id uint16) int {
	n := cryptotls.CipherSuiteName(id)
	switch {
	case strings.Contains(n, "AES_256"), strings.Contains(n, "CHACHA20"):
		return 256
	case strings.Contains(n, "AES_128"):
		return 128
	case strings.Contains(n, "3DES"):
		return 168
	}
	return 0
}

// asn1Time is OpenSSL's ASN1_TIME_print form: "Jan  2 15:04:05 2006 GMT".
func asn1Time(t time.Time) string { return t.UTC().Format("Jan _2 15:04:05 2006 GMT") }

// namePart is the first value of the attribute oid in a DER name.
func namePart(raw []byte, oid string) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return ""
	}
	for _, rdn := range seq {
		for _, atv := range rdn {
			if atv.Type.String() == oid {
				if s, ok := atv.Value.(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

// rpcReload is tls.reload.
func rpcReload(rt *core.Runtime, _ []core.Value) (any, error) {
	c := rt.Control
	if c == nil || c.ReloadTLS == nil {
		return nil, errors.New("tls.reload: no server with a tls: listen")
	}
	if err := c.ReloadTLS(); err != nil {
		return nil, err
	}
	return "Ok. TLS configuration reloaded.", nil
}

// rpcInfo is tls.info.
func rpcInfo(rt *core.Runtime, _ []core.Value) (any, error) {
	c := rt.Control
	if c == nil || c.TLSInfo == nil {
		return nil, errors.New("tls.info: no server running")
	}
	return c.TLSInfo(), nil
}

// rpcList is tls.list.
func rpcList(rt *core.Runtime, _ []core.Value) (any, error) {
	c := rt.Control
	if c == nil || c.TLSList == nil {
		return nil, errors.New("tls.list: no server running")
	}
	return c.TLSList(), nil
}
