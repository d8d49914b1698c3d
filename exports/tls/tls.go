// Package tls is Kamailio's tls module for kemi: its params configure the
// server's TLS listens (server/streams.go reads them into
// sip/transport/tlscfg), and its function and pseudo-variables describe
// the TLS connection a message came on.
package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strconv"

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
