package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCheckErrors runs `kemi check` on broken configs; each must fail with
// a message that says where and what.
func TestCheckErrors(t *testing.T) {
	cases := []struct{ cfg, want string }{
		{"missing-script.cfg", `missing-script.cfg:3:`},
		{"missing-script.cfg", `no-such-script.lua does not exist`},
		{"engine-before-module.cfg", `engine-before-module.cfg:2:1: cfgengine "lua": load app_lua before this line`},
		{"unknown-module.cfg", `unknown-module.cfg:2:`},
		{"unknown-module.cfg", `did you mean "maxfwd"`},
		{"unknown-modparam.cfg", `unknown-modparam.cfg:3:`},
		{"unknown-modparam.cfg", `did you mean "load"`},
		{"ifdef-nesting.cfg", `ifdef-nesting.cfg:3:1:`},
		{"no-request-route.cfg", `no ksr_request_route`},
		{"syntax-error.cfg", `syntax-error.lua:2`},
		{"no-request-route-js.cfg", `no ksr_request_route`},
		{"syntax-error-js.cfg", `syntax-error.js:3`},
		{"no-request-route-star.cfg", `no ksr_request_route`},
		{"syntax-error-star.cfg", `syntax-error.star:2`},
	}
	for _, c := range cases {
		t.Run(c.cfg, func(t *testing.T) {
			out, err := exec.Command(kemiBin, "check", "-f", "testdata/errors/"+c.cfg).CombinedOutput()
			if err == nil {
				t.Fatalf("kemi check passed a broken config; output:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("kemi check output lacks %q:\n%s", c.want, out)
			}
		})
	}
}

func TestCheckOK(t *testing.T) {
	for _, cfg := range []string{"testdata/lua/kemi.cfg", "testdata/js/kemi.cfg", "testdata/star/kemi.cfg", repo("testdata/seed/kamailio.cfg"), repo("testdata/seed/kamailio-sr.cfg")} {
		out, err := exec.Command(kemiBin, "check", "-f", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Errorf("kemi check -f %s: %v\n%s", cfg, err, out)
		}
	}
}
