package auth_db

import (
	"testing"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// BenchmarkAuthCheck runs auth_check for a subscriber with a plaintext
// password and for one with only HA1 values.
func BenchmarkAuthCheck(b *testing.B) {
	for _, user := range []string{"alice", "bob"} {
		b.Run(user, func(b *testing.B) {
			rt, _, _ := setup(b, 0)
			rec := ksrtest.NewRecorder()
			ctx := msgCtx(b, rt, register(user), rec)
			auth.AuthChallenge(ctx, "example.com", 0)
			nonce := nonceRE.FindStringSubmatch(string(rec.Sent[0].B))[1]
			pass := map[string]string{"alice": "alicepw", "bob": "bobpw"}[user]
			ha1 := auth.HA1(auth.MD5, user, "example.com", pass)
			resp := auth.HashHex(auth.MD5, ha1+":"+nonce+":00000001:c0ffee:auth:"+auth.HashHex(auth.MD5, "REGISTER:sip:example.com"))
			raw := []byte(register(user, `Authorization: Digest username="`+user+`", realm="example.com", nonce="`+nonce+
				`", uri="sip:example.com", response="`+resp+`", qop=auth, nc=00000001, cnonce="c0ffee"`))
			bnonce := []byte(nonce)
			var m sip.Msg
			c := &core.Ctx{RT: rt}
			b.ReportAllocs()
			for b.Loop() {
				m.Parse(raw)
				c.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
				if rc := AuthCheck(c, "example.com", "subscriber", 1); rc != auth.OK {
					b.Fatalf("auth_check = %d", rc)
				}
				auth.ForgetNonce(rt, bnonce) // the same nc again would be a replay
			}
		})
	}
}
