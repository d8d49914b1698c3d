package uac

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/rr"
)

// uacCtx parses raw and runs the module's start with the given params
// ("name=value"), as if module rr were loaded.
func uacCtx(t *testing.T, raw []byte, params ...string) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, raw, nil)
	ctx.RT.Params = map[string]map[string][]core.Value{"uac": {}}
	defaults := map[string]core.Value{
		"rr_from_store_param": core.Str("vsf"), "rr_to_store_param": core.Str("vst"),
		"restore_mode": core.Str("auto"), "restore_dlg": core.Int(0),
	}
	for k, v := range defaults {
		ctx.RT.Params["uac"][k] = []core.Value{v}
	}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		ctx.RT.Params["uac"][k] = append(ctx.RT.Params["uac"][k], core.Str(v))
	}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	cfg(ctx).rrLoaded = true // the test runtime has no registry of modules
	return ctx
}

func req(from, to string, extra ...string) []byte {
	return ksrtest.Request(append([]string{
		"INVITE sip:bob@192.0.2.20 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-u1",
		"From: " + from,
		"To: " + to,
		"Call-ID: u@y",
		"CSeq: 1 INVITE",
	}, append(extra, "Content-Length: 0")...)...)
}

// Issue 11: the forms of From uac_replace_from meets: with and without
// display name and angle brackets; the display replaced, removed or kept.
func TestIssue11_UacReplaceForms(t *testing.T) {
	for _, tc := range []struct {
		from    string
		display *string
		uri     string
		want    string
	}{
		{`"Alice" <sip:alice@a.example>;tag=1`, ptr(`"Bob"`), "sip:bob@b.example", `From: "Bob" <sip:bob@b.example>;tag=1`},
		{`"Alice" <sip:alice@a.example>;tag=1`, ptr(""), "", `From: <sip:alice@a.example>;tag=1`},
		{`"Alice" <sip:alice@a.example>;tag=1`, nil, "sip:x@x.example", `From: "Alice" <sip:x@x.example>;tag=1`},
		{`sip:alice@a.example;tag=1`, ptr("Al"), "", `From: Al <sip:alice@a.example>;tag=1`},
		{`sip:alice@a.example;tag=1`, nil, "sip:b@b.example;user=phone", `From: <sip:b@b.example;user=phone>;tag=1`},
		{`<sip:alice@a.example>;tag=1`, ptr("New"), "", `From: New <sip:alice@a.example>;tag=1`},
	} {
		ctx := uacCtx(t, req(tc.from, "<sip:bob@192.0.2.20>"), "restore_mode=none")
		if rc := replace(ctx, true, tc.display, tc.uri, "t"); rc != 1 {
			t.Errorf("%s: rc %d", tc.from, rc)
			continue
		}
		if got := ksrtest.Serialize(ctx); !strings.Contains(got, "\r\n"+tc.want+"\r\n") {
			t.Errorf("%s: want %q in\n%s", tc.from, tc.want, got)
		}
	}
}

func ptr(s string) *string { return &s }

// Issue 11: what a script or a peer may hand uac_replace_* that must not
// reach the message: header injection, bad URIs, a second replace, and a
// URI change inside a dialog in auto mode.
func TestIssue11_UacReplaceRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, display, uri, to string
	}{
		{"CRLF in uri", "", "sip:a@b\r\nX-Evil: 1", "<sip:bob@192.0.2.20>"},
		{"CRLF in display", "A\r\nX-Evil: 1", "", "<sip:bob@192.0.2.20>"},
		{"angle in uri", "", "sip:a@b>;x=<", "<sip:bob@192.0.2.20>"},
		{"not a uri", "", "nothing", "<sip:bob@192.0.2.20>"},
		{"long uri", "", "sip:" + strings.Repeat("a", 2000) + "@b", "<sip:bob@192.0.2.20>"},
		{"in dialog, auto", "", "sip:a@b", "<sip:bob@192.0.2.20>;tag=2"},
	} {
		ctx := uacCtx(t, req("<sip:alice@a.example>;tag=1", tc.to))
		if rc := ReplaceFrom(ctx, tc.display, tc.uri); rc != -1 || ctx.Msg.PendingEdits() {
			t.Errorf("%s: rc %d, edits %v; want -1 and none", tc.name, rc, ctx.Msg.PendingEdits())
		}
	}
	ctx := uacCtx(t, req("<sip:alice@a.example>;tag=1", "<sip:bob@192.0.2.20>"), "restore_mode=none")
	if ReplaceFromURI(ctx, "sip:a@b") != 1 || ReplaceFromURI(ctx, "sip:c@d") != -1 {
		t.Error("a second uac_replace_from on the same message must fail")
	}
	if ReplaceToURI(ctx, "sip:c@d") != 1 {
		t.Error("uac_replace_to after uac_replace_from must work")
	}
}

// Issue 11: with restore_passwd, the stored value round-trips both ways
// and a tampered one is refused, never written into the header.
func TestIssue11_UacRestorePasswd(t *testing.T) {
	ctx := uacCtx(t, req("<sip:alice@a.example>;tag=1", "<sip:bob@192.0.2.20>"), "restore_passwd=k3y")
	if ReplaceFromURI(ctx, "sip:someone.much.longer@hidden.example") != 1 {
		t.Fatal("replace failed")
	}
	// add_rr_param without record_route keeps the param for it.
	if rr.RecordRoute(ctx) != 1 {
		t.Fatal("record_route failed")
	}
	s := ksrtest.Serialize(ctx)
	i := strings.Index(s, ";vsf=")
	if i < 0 {
		t.Fatalf("no vsf in\n%s", s)
	}
	val := s[i+5:]
	val = val[:strings.IndexAny(val, ";>")]
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"downstream", "<sip:alice@a.example>;tag=1", "<sip:bob@192.0.2.20>;tag=2", "From: <sip:someone.much.longer@hidden.example>;tag=1"},
		{"upstream", "<sip:bob@192.0.2.20>;tag=2", "<sip:someone.much.longer@hidden.example>;tag=1", "To: <sip:alice@a.example>;tag=1"},
	} {
		c := uacCtx(t, req(tc.from, tc.to, "Route: <sip:192.0.2.1;lr;ftag=1;vsf="+val+">"), "restore_passwd=k3y")
		if rc := RestoreFrom(c); rc != 1 {
			t.Errorf("%s: rc %d", tc.name, rc)
			continue
		}
		if got := ksrtest.Serialize(c); !strings.Contains(got, "\r\n"+tc.want+"\r\n") {
			t.Errorf("%s: want %q in\n%s", tc.name, tc.want, got)
		}
	}
	// Wrong key, or a value flipped on the way: not printable, refused.
	for _, bad := range []string{"restore_passwd=other", ""} {
		v := val
		if bad == "" {
			v = "AAAA" + val[4:]
		}
		params := []string{}
		if bad != "" {
			params = append(params, bad)
		} else {
			params = append(params, "restore_passwd=k3y")
		}
		c := uacCtx(t, req("<sip:alice@a.example>;tag=1", "<sip:bob@192.0.2.20>;tag=2", "Route: <sip:192.0.2.1;lr;ftag=1;vsf="+v+">"), params...)
		if rc := RestoreFrom(c); rc != -1 || c.Msg.PendingEdits() {
			t.Errorf("%q: rc %d; want -1 and the From left alone:\n%s", bad, rc, ksrtest.Serialize(c))
		}
	}
}

func TestIssue11_UacCredentialParam(t *testing.T) {
	for s, ok := range map[string]bool{
		"alice:peer.test:secret":    true,
		" alice : peer.test : s:x ": true,
		"alice:peer.test":           false,
		"alice::secret":             false,
		"al ice:peer:secret":        false,
		"alice:peer:sec\"ret":       false,
	} {
		if _, err := parseCredential(s); (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", s, err, ok)
		}
	}
	ctx := ksrtest.Ctx(t, req("<sip:a@b>;tag=1", "<sip:c@d>"), nil)
	ctx.RT.Params = map[string]map[string][]core.Value{"uac": {
		"restore_mode": {core.Str("sometimes")}, "rr_from_store_param": {core.Str("vsf")}, "rr_to_store_param": {core.Str("vst")},
	}}
	if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), "restore_mode") {
		t.Errorf("restore_mode sometimes: err %v, want one naming the param", err)
	}
	ctx.RT.Params["uac"]["restore_mode"] = []core.Value{core.Str("auto")}
	ctx.RT.Params["uac"]["auth_username_avp"] = []core.Value{core.Str("$avp(u)")}
	if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("auth_username_avp alone: err %v", err)
	}
}

func TestIssue11_UacChallengeFields(t *testing.T) {
	for s, ok := range map[string]bool{
		"abc": true, strings.Repeat("n", 600): false, "a\"b": false, "a\r\nb": false, `a\b`: false,
	} {
		if fieldOK([]byte(s)) != ok {
			t.Errorf("fieldOK(%q) != %v", s, ok)
		}
	}
	if !hasToken([]byte("auth-int, auth"), "auth") || hasToken([]byte("auth-int"), "auth") {
		t.Error("hasToken")
	}
}
