package auth

import (
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

func BenchmarkAuthCheck(b *testing.B) {
	for _, alg := range []Alg{MD5, SHA256} {
		b.Run(alg.String(), func(b *testing.B) {
			rt := newRT(b, map[string]core.Value{"algorithm": core.Str(alg.String())})
			nonce := nonceRE.FindStringSubmatch(challengeLine(b, rt, register(), 0))[1]
			raw := []byte(register("Authorization: " + authorization(alg, "alice", "example.com", "secret", "REGISTER", "sip:example.com", nonce, "00000001", "c0ffee")))
			var m sip.Msg
			ctx := &core.Ctx{RT: rt}
			b.ReportAllocs()
			for b.Loop() {
				m.Parse(raw)
				ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
				if PvAuthCheck(ctx, "example.com", "secret", 0, 1) != OK {
					b.Fatal("check failed")
				}
				// The same nc again would be a replay.
				ForgetNonce(rt, bytesOf(nonce))
			}
		})
	}
}

// BenchmarkFingerprint is the cost a successful check pays to remember
// which request used a nonce (for retransmissions): an HMAC-SHA256 over
// the whole request.
func BenchmarkFingerprint(b *testing.B) {
	n := newNonces("k", 300, 3, 0, 8)
	var m mac
	req := []byte(register("Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:example.com", "x", "00000001", "c0ffee")))
	var fp [fpLen]byte
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		n.fingerprint(&m, byte(core.UDP), ksrtest.Src, req, &fp)
	}
}
