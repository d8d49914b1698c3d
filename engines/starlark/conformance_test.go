package starlark

import (
	"testing"

	"kemi/engines/enginetest"
)

// TestConformance runs the engines' shared suite (engines/enginetest)
// with Starlark snippets. "count" has none: Starlark freezes globals after
// the top level, so a script keeps no state between messages.
func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Engine{Engine: Engine{}, Ext: ".star", Snippets: map[string]string{
		"ksr_request_route": `def ksr_request_route():
    if KSR.maxfwd.process_maxfwd(10) < 0:
        KSR.sl.send_reply(483, "Too Many Hops")
        return
    KSR.sl.sl_send_reply(200, "OK")`,
		"args": `def args():
    KSR.kx.args(5, "s", True, 5000000000)
    KSR.kx.args("42", "t", False, "-7")`,
		"bad_count": `def bad_count():
    KSR.sl.sl_send_reply(200)  # MARK`,
		"bad_type": `def bad_type():
    KSR.sl.sl_send_reply("abc", "OK")  # MARK`,
		"bad_bool": `def bad_bool():
    KSR.kx.negate("yes")`,
		"returns": `def returns():
    KSR.kx.args(KSR.maxfwd.process_maxfwd(10), KSR.kx.xval(1), KSR.kx.negate(False), KSR.kx.xval(5000000000))
    if KSR.kx.xval(0) == None:
        KSR.info("null")
    if KSR.is_method("INVITE") == True:
        KSR.info("true")
    if KSR.info("x") == None:
        KSR.info("nothing")`,
		"exit": `def exit():
    KSR.sl.sl_send_reply(200, "OK")
    def inner():
        KSR.x.exit()
        KSR.info("after")
    inner()
    KSR.info("after")`,
		"drop": `def drop():
    KSR.x.drop()
    KSR.info("after")`,
		"missing_module": `def missing_module():
    if KSR.auth == None:
        KSR.info("absent")`,
		"readonly": `def readonly():
    KSR.sl = None`,
		"nest": `def nest():
    KSR.info(KSR.kx.whoami())
    KSR.kx.nest("nest_inner")
    KSR.info(KSR.kx.whoami())`,
		"nest_inner": `def nest_inner():
    KSR.info(KSR.kx.whoami())
    KSR.x.exit()`,
		"runaway": `def runaway():
    while True:  # MARK
        pass`,
		"bomb": `def bomb():
    s = "x"
    for i in range(40):
        s = s + s
    return len(s)`,
		"script_error": `def script_error():
    t = None
    return t.field  # MARK`,
		"go_error": `def go_error():
    KSR.kx.fail()  # MARK`,
		"go_panic": `def go_panic():
    KSR.kx.crash()`,
	}})
}
