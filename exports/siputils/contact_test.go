package siputils

import (
	"strings"
	"testing"

	"kemi/exports/internal/ksrtest"
)

func TestContactParamRoundTrip(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com",
		`Contact: "Alice" <sip:alice@192.0.2.10:5062;transport=udp>;expires=60, sip:a2@192.0.2.11`), nil)
	if ContactParamCheck(ctx, "ct") != -1 {
		t.Error("contact_param_check before encoding")
	}
	if ContactParamEncode(ctx, "ct", "sip:203.0.113.1:5060") != 1 {
		t.Fatal("contact_param_encode")
	}
	out := ksrtest.Serialize(ctx)
	want := `Contact: "Alice" <sip:203.0.113.1:5060;ct=c2lwOmFsaWNlQDE5Mi4wLjIuMTA6NTA2Mjt0cmFuc3BvcnQ9dWRw>;expires=60, <sip:203.0.113.1:5060;ct=c2lwOmEyQDE5Mi4wLjIuMTE>` + "\r\n"
	if !strings.Contains(out, want) {
		t.Fatalf("encoded:\n%s\nwant line %q", out, want)
	}
	enc := ksrtest.Ctx(t, []byte(out), nil)
	if ContactParamCheck(enc, "CT") != 1 {
		t.Error("contact_param_check after encoding")
	}
	if ContactParamDecode(enc, "ct") != 1 {
		t.Fatal("contact_param_decode")
	}
	if dec := ksrtest.Serialize(enc); !strings.Contains(dec, `Contact: "Alice" <sip:alice@192.0.2.10:5062;transport=udp>;expires=60, <sip:a2@192.0.2.11>`+"\r\n") {
		t.Errorf("decoded:\n%s", dec)
	}
	// An in-dialog request to the encoded Contact gets its target back.
	bye := ksrtest.Ctx(t, req("sip:203.0.113.1:5060;ct=c2lwOmEyQDE5Mi4wLjIuMTE"), nil)
	if ContactParamDecodeRURI(bye, "ct") != 1 || string(bye.Msg.RequestURI()) != "sip:a2@192.0.2.11" {
		t.Errorf("contact_param_decode_ruri: %q", bye.Msg.RequestURI())
	}
	bad := ksrtest.Ctx(t, req("sip:203.0.113.1;ct=%%%"), nil)
	if ContactParamDecodeRURI(bad, "ct") != -1 {
		t.Error("a bad value decoded")
	}
}

func TestContactParamAliasAndRm(t *testing.T) {
	ctx := ksrtest.Ctx(t, req("sip:bob@example.com", "Contact: <sip:alice@10.0.0.5:5060;ob;ct=x>"), nil)
	if ContactParamRm(ctx, "ct") != 1 {
		t.Fatal("contact_param_rm")
	}
	if out := ksrtest.Serialize(ctx); !strings.Contains(out, "Contact: <sip:alice@10.0.0.5:5060;ob>\r\n") {
		t.Errorf("rm:\n%s", out)
	}
	ctx = ksrtest.Ctx(t, req("sip:bob@example.com", "Contact: <sip:alice@10.0.0.5:5060>"), nil)
	if ContactParamEncodeAlias(ctx, "ct", "sip:203.0.113.1") != 1 {
		t.Fatal("contact_param_encode_alias")
	}
	enc := ksrtest.Ctx(t, []byte(ksrtest.Serialize(ctx)), nil)
	ContactParamDecode(enc, "ct")
	if out := ksrtest.Serialize(enc); !strings.Contains(out, "Contact: <sip:alice@10.0.0.5:5060;alias=192.0.2.10~5062~1>\r\n") {
		t.Errorf("alias round trip:\n%s", out)
	}
}
