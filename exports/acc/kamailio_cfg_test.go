package acc_test

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/core/config"
	_ "kemi/exports/all"
)

// Kamailio's default kamailio.cfg loads acc with its flags and log_extra:
// with the real modules the config loads, acc is not in the ignored
// notices, and its modparams arrive unchanged.
func TestAcc_KamailioDefaultConfigParamsLoadUnchanged(t *testing.T) {
	cfg, err := config.Load("../../core/config/testdata/kamailio-default.cfg", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cfg.Notices {
		if strings.Contains(n, "acc") {
			t.Errorf("notice about acc: %s", n)
		}
	}
	got := map[string]core.Value{}
	for _, p := range cfg.ModParams {
		if p.Module == "acc" {
			got[p.Name] = p.Value
		}
	}
	want := map[string]core.Value{
		"early_media":             core.Int(0),
		"log_flag":                core.Int(1),
		"log_missed_flag":         core.Int(2),
		"failed_transaction_flag": core.Int(3),
		"log_extra":               core.Str("src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd"),
	}
	if len(got) != len(want) {
		t.Errorf("acc modparams %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("acc %s = %v, want %v", k, got[k], v)
		}
	}
}
