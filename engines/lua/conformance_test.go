package lua

import (
	"testing"

	"kemi/engines/enginetest"
)

// TestConformance runs the engines' shared suite (engines/enginetest)
// with Lua snippets.
func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Engine{Engine: Engine{}, Ext: ".lua", Snippets: map[string]string{
		"ksr_request_route": `function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.send_reply(483, "Too Many Hops")
		return
	end
	KSR.sl.sl_send_reply(200, "OK")
end`,
		"args": `function args()
	KSR.kx.args(5, "s", true, 5000000000)
	KSR.kx.args("42", "t", false, "-7")
end`,
		"bad_count": `function bad_count()
	KSR.sl.sl_send_reply(200) -- MARK
end`,
		"bad_type": `function bad_type()
	KSR.sl.sl_send_reply("abc", "OK") -- MARK
end`,
		"bad_bool": `function bad_bool() KSR.kx.negate("yes") end`,
		"returns": `function returns()
	KSR.kx.args(KSR.maxfwd.process_maxfwd(10), KSR.kx.xval(1), KSR.kx.negate(false), KSR.kx.xval(5000000000))
	if KSR.kx.xval(0) == nil then KSR.info("null") end
	if KSR.is_method("INVITE") == true then KSR.info("true") end
	if KSR.info("x") == nil then KSR.info("nothing") end
end`,
		"exit": `function exit()
	KSR.sl.sl_send_reply(200, "OK")
	local function inner() KSR.x.exit(); KSR.info("after") end
	inner()
	KSR.info("after")
end`,
		"drop":           `function drop() KSR.x.drop(); KSR.info("after") end`,
		"missing_module": `function missing_module() if KSR.auth == nil then KSR.info("absent") end end`,
		"readonly":       `function readonly() KSR.sl = nil end`,
		"nest": `function nest()
	KSR.info(KSR.kx.whoami())
	KSR.kx.nest("nest_inner")
	KSR.info(KSR.kx.whoami())
end`,
		"nest_inner": `function nest_inner() KSR.info(KSR.kx.whoami()); KSR.x.exit() end`,
		"runaway": `function runaway()
	while true do end -- MARK
end`,
		"bomb": `function bomb()
	local s = "x"
	while true do s = s .. s end
end`,
		"script_error": `function script_error()
	local t = nil
	return t.field -- MARK
end`,
		"go_error": `function go_error()
	KSR.kx.fail() -- MARK
end`,
		"go_panic": `function go_panic() KSR.kx.crash() end`,
		"count": `counter = 0
function count() counter = counter + 1; KSR.info(tostring(counter)) end`,
	}})
}
