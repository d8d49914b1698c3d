package scriptcheck

import (
	"testing"
)

// FuzzCheck: no script text makes the checker panic or hang, in any
// language. Check recovers from a parser panic itself; the fuzzer runs
// the walkers directly so such a panic is still found.
func FuzzCheck(f *testing.F) {
	for _, r := range rules {
		for lang, body := range []string{r.lua, r.js, r.star} {
			_, src := scriptFor(Lang(lang), body)
			f.Add(uint8(lang), src)
		}
	}
	f.Add(uint8(Lua), "local tm = KSR.tm\ntm.t_relay(...)\nKSR.sl['send_reply'](f())\nsr.sl.x()")
	f.Add(uint8(JS), "const {sl} = KSR; KSR.sl.send_reply(...a); KSR['tm'].t_relay(-1, `x`); x => KSR.x.exit(undefined)")
	f.Add(uint8(Starlark), "def f(*a, **k):\n  KSR.sl.send_reply(*a, code=1)\n  [KSR.x for KSR in a]\n")
	env := testEnv(f, "sl", "tm")
	f.Fuzz(func(t *testing.T, lang uint8, src string) {
		l := Lang(lang % 3)
		var s *script
		switch l {
		case Lua:
			s = walkLua("f", []byte(src))
		case JS:
			s = walkJS("f", []byte(src))
		default:
			s = walkStar("f", []byte(src))
		}
		if s != nil {
			c := &checker{env: env, s: s, lang: l, path: "f"}
			c.run()
		}
		Check(l, "f", []byte(src), env)
	})
}
