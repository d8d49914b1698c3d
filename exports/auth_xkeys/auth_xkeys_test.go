package auth_xkeys

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

func sum256(s string) string { b := sha256.Sum256([]byte(s)); return hex.EncodeToString(b[:]) }
func sum512(s string) string { b := sha512.Sum512([]byte(s)); return hex.EncodeToString(b[:]) }

// setup returns a context for raw with the xkey definitions loaded.
func setup(t testing.TB, raw []byte, xkeys ...string) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard, core.Known("auth_xkeys"))
	var vs []core.Value
	for _, x := range xkeys {
		vs = append(vs, core.Str(x))
	}
	ctx.RT.Params = map[string]map[string][]core.Value{"auth_xkeys": {"xkey": vs}}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestParseKey(t *testing.T) {
	now := time.Unix(1000, 0)
	k, err := ParseKey("id=abc;name=xyz;value=secret;expires=72000", now)
	if err != nil || k.ID != "abc" || k.Name != "xyz" || k.Value != "secret" || !k.Expires.Equal(now.Add(72000*time.Second)) {
		t.Fatalf("ParseKey = %+v, %v", k, err)
	}
	k, err = ParseKey(` ID = g ; Name=n; value="a;b" `, now)
	if err != nil || k.ID != "g" || k.Value != "a;b" || !k.Expires.IsZero() {
		t.Fatalf("ParseKey = %+v, %v", k, err)
	}
	for def, want := range map[string]string{
		"":                               "expected id=",
		"id=a;name=b":                    "none empty",
		"id=a;name=b;value=":             "none empty",
		"id=a;name=b;value=c;expires":    "expires=: expected seconds",
		"id=a;name=b;value=c;expires=-1": "expires=-1",
		"id=a;name=b;value=c;colour=1":   `unknown attribute "colour"`,
	} {
		_, err := ParseKey(def, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKey(%q) = %v, want %q", def, err, want)
		}
	}
	// The error never quotes the secret.
	if _, err := ParseKey("id=a;name=b;value=TOPSECRET;bogus=1", now); err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("error %v shows the secret", err)
	}
}

// The header is Kamailio's: lower-case hex of SHA-2 over "value:data".
func TestAddComputesKamailiosDigest(t *testing.T) {
	ctx := setup(t, ksrtest.Invite(), "id=abc;name=old;value=s1", "id=ABC;name=new;value=s2")
	if Add(ctx, "X-My-Key", "abc", "SHA256", "192.0.2.1:sip:alice@example.org") != 1 {
		t.Fatal("add failed")
	}
	out := ksrtest.Serialize(ctx)
	want := "X-My-Key: " + sum256("s2:192.0.2.1:sip:alice@example.org") + "\r\n"
	if !strings.Contains(out, want) {
		t.Errorf("message lacks %q (the newest key signs):\n%s", want, out)
	}
	for _, c := range []struct{ hdr, id, alg string }{
		{"X-My-Key", "nosuch", "sha256"},
		{"X-My-Key", "abc", "md5"},
		{"X-Bad\r\nInjected: 1", "abc", "sha256"},
		{"", "abc", "sha256"},
		{"X:Y", "abc", "sha256"},
	} {
		if Add(ctx, c.hdr, c.id, c.alg, "d") != -1 {
			t.Errorf("Add(%q, %q, %q) succeeded", c.hdr, c.id, c.alg)
		}
	}
}

func TestCheck(t *testing.T) {
	data := "192.0.2.10:sip:alice@example.org"
	for _, c := range []struct {
		name, hdr, alg string
		want           int
	}{
		{"newest key", sum256("s2:" + data), "sha256", 1},
		{"older key still verifies", sum256("s1:" + data), "sha256", 1},
		{"upper-case hex", strings.ToUpper(sum256("s1:" + data)), "sha256", 1},
		{"spaces around", "  " + sum256("s2:"+data) + " ", "sha256", 1},
		{"sha512", sum512("s2:" + data), "SHA512", 1},
		{"wrong data", sum256("s2:" + data + "x"), "sha256", -1},
		{"unknown key", sum256("s3:" + data), "sha256", -1},
		{"sha256 digest checked as sha512", sum256("s2:" + data), "sha512", -1},
		{"one char off", sum256("s2:" + data)[:63] + "0", "sha256", -1},
		{"truncated", sum256("s2:" + data)[:32], "sha256", -1},
		{"empty", "", "sha256", -1},
		{"huge", strings.Repeat("a", 8000), "sha256", -1},
		{"unknown algorithm", sum256("s2:" + data), "md5", -1},
	} {
		ctx := setup(t, ksrtest.Invite("X-My-Key: "+c.hdr), "id=abc;name=old;value=s1", "id=abc;name=new;value=s2")
		if got := Check(ctx, "x-my-key", "abc", c.alg, data); got != c.want {
			t.Errorf("%s: Check = %d, want %d", c.name, got, c.want)
		}
	}
	ctx := setup(t, ksrtest.Invite(), "id=abc;name=k;value=s1")
	if Check(ctx, "X-My-Key", "abc", "sha256", data) != -1 {
		t.Error("a missing header passed")
	}
	ctx = setup(t, ksrtest.Invite("X-My-Key: "+sum256("s1:"+data)), "id=abc;name=k;value=s1")
	if Check(ctx, "X-My-Key", "other", "sha256", data) != -1 {
		t.Error("a digest passed for another group")
	}
}

// A key past its expires is not used: the next live key signs, and its
// digests no longer verify.
func TestExpiredKeys(t *testing.T) {
	data := "d"
	ctx := setup(t, ksrtest.Invite("X-K: "+sum256("old:"+data), "X-N: "+sum256("new:"+data)))
	ks := Of(ctx.RT)
	ks.add(Key{ID: "g", Name: "old", Value: "old"})
	ks.add(Key{ID: "g", Name: "new", Value: "new", Expires: time.Now().Add(-time.Second)})
	if Check(ctx, "X-N", "g", "sha256", data) != -1 {
		t.Error("an expired key verified")
	}
	if Check(ctx, "X-K", "g", "sha256", data) != 1 {
		t.Error("the live key did not verify")
	}
	Add(ctx, "X-Out", "g", "sha256", data)
	if !strings.Contains(ksrtest.Serialize(ctx), "X-Out: "+sum256("old:"+data)) {
		t.Error("add did not fall back to the live key")
	}
	ks.add(Key{ID: "dead", Name: "x", Value: "x", Expires: time.Now().Add(-time.Second)})
	if Add(ctx, "X-D", "dead", "sha256", data) != -1 {
		t.Error("add with a wholly expired group succeeded")
	}
}

// Hostile: huge data is hashed and its buffer not kept.
func TestHostile_HugeData(t *testing.T) {
	data := strings.Repeat("d", 4<<20)
	ctx := setup(t, ksrtest.Invite("X-K: "+sum256("s:"+data)), "id=g;name=k;value=s")
	if Check(ctx, "X-K", "g", "sha256", data) != 1 || Check(ctx, "X-K", "g", "sha256", data[1:]) != -1 {
		t.Error("huge data checked wrong")
	}
	if c := cap(state(ctx).in); c > 64<<10 {
		t.Errorf("kept a %d-byte buffer", c)
	}
}

func TestStartError(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("auth_xkeys"))
	ctx.RT.Params = map[string]map[string][]core.Value{"auth_xkeys": {"xkey": {core.Str("id=a;name=b")}}}
	if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), `modparam("auth_xkeys", "xkey")`) {
		t.Errorf("start = %v", err)
	}
}

// Round trip through a written-out message, as between two servers.
func TestAddThenCheckAcrossServers(t *testing.T) {
	keys := []string{"id=peer;name=k1;value=shared"}
	a := setup(t, ksrtest.Invite(), keys...)
	data := "$si:$fu"
	Add(a, "X-Auth", "peer", "sha384", data)
	var m sip.Msg
	raw := []byte(ksrtest.Serialize(a))
	if err := m.Parse(raw); err != nil {
		t.Fatal(err)
	}
	b := setup(t, raw, keys...)
	if Check(b, "X-Auth", "peer", "sha384", data) != 1 {
		t.Error("the receiver rejected the sender's header")
	}
	if Check(b, "X-Auth", "peer", "sha384", data+"!") != -1 {
		t.Error("the receiver accepted other data")
	}
}

func TestCheckNoAllocs(t *testing.T) {
	data := "192.0.2.10:sip:alice@example.org"
	ctx := setup(t, ksrtest.Invite("X-My-Key: "+sum256("s1:"+data)), "id=abc;name=old;value=s1", "id=abc;name=new;value=s2")
	if n := testing.AllocsPerRun(200, func() {
		if Check(ctx, "X-My-Key", "abc", "sha256", data) != 1 {
			t.Fatal("check failed")
		}
	}); n != 0 {
		t.Errorf("check allocates %v times, want 0", n)
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"id=abc;name=xyz;value=secret;expires=72000", `id="a;b";name=n;value=v`, ";;", "id=a;name=b;value=c;expires=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		k, err := ParseKey(def, time.Unix(0, 0))
		if err == nil && (k.ID == "" || k.Name == "" || k.Value == "") {
			t.Errorf("ParseKey(%q) = %+v without error", def, k)
		}
	})
}

func BenchmarkCheckSHA256(b *testing.B) {
	data := "192.0.2.10:sip:alice@example.org:sip:bob@example.com:314159 INVITE"
	ctx := setup(b, ksrtest.Invite("X-My-Key: "+sum256("s1:"+data)), "id=abc;name=old;value=s1", "id=abc;name=new;value=s2")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Check(ctx, "X-My-Key", "abc", "sha256", data)
	}
}
