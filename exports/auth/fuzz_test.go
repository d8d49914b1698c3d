package auth

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// FuzzCheck feeds arbitrary Authorization values to a check: it must
// return a code, never panic.
func FuzzCheck(f *testing.F) {
	rt := newRT(f, nil)
	nonce := nonceRE.FindStringSubmatch(challengeLine(f, rt, register(), 0))[1]
	f.Add(authorization(MD5, "alice", "example.com", "pw", "REGISTER", "sip:example.com", nonce, "00000001", "c"))
	f.Add(authorization(SHA256, "alice", "example.com", "pw", "REGISTER", "sip:example.com", nonce, "", ""))
	f.Add(`Digest username="alice", realm="example.com", nonce="` + nonce + `", uri="x", response="y", qop=auth, nc=0000000g`)
	f.Add(`Digest realm="example.com", nonce=""`)
	f.Add(`Basic YWxhZGRpbjpvcGVuc2VzYW1l`)
	var m sip.Msg
	ctx := &core.Ctx{RT: rt, Out: ksrtest.Discard}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		if m.Parse([]byte(register("Authorization: "+v))) != nil {
			return
		}
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		rc := PvAuthCheck(ctx, "example.com", "pw", 0, 1)
		if rc == 0 || rc > OK || rc < UserMismatch {
			t.Fatalf("code %d", rc)
		}
		HasCredentials(ctx, "example.com")
		ConsumeCredentials(ctx)
		AuthChallenge(ctx, "", 1)
	})
}
