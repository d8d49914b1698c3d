package js

import (
	"testing"

	"kemi/engines/enginetest"
)

// TestConformance runs the engines' shared suite (engines/enginetest)
// with JavaScript snippets.
func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Engine{Engine: Engine{}, Ext: ".js", Snippets: map[string]string{
		"ksr_request_route": `function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.send_reply(483, "Too Many Hops");
		return;
	}
	KSR.sl.sl_send_reply(200, "OK");
}`,
		"args": `function args() {
	KSR.kx.args(5, "s", true, 5000000000);
	KSR.kx.args("42", "t", false, "-7");
}`,
		"bad_count": `function bad_count() {
	KSR.sl.sl_send_reply(200); // MARK
}`,
		"bad_type": `function bad_type() {
	KSR.sl.sl_send_reply("abc", "OK"); // MARK
}`,
		"bad_bool": `function bad_bool() { KSR.kx.negate("yes"); }`,
		"returns": `function returns() {
	KSR.kx.args(KSR.maxfwd.process_maxfwd(10), KSR.kx.xval(1), KSR.kx.negate(false), KSR.kx.xval(5000000000));
	if (KSR.kx.xval(0) === null) KSR.info("null");
	if (KSR.is_method("INVITE") === true) KSR.info("true");
	if (KSR.info("x") === undefined) KSR.info("nothing");
}`,
		"exit": `function exit() {
	KSR.sl.sl_send_reply(200, "OK");
	(function () { KSR.x.exit(); KSR.info("after"); })();
	KSR.info("after");
}`,
		"drop":           `function drop() { KSR.x.drop(); KSR.info("after"); }`,
		"missing_module": `function missing_module() { if (KSR.auth === undefined) KSR.info("absent"); }`,
		"readonly":       `function readonly() { KSR.sl = null; }`,
		"nest": `function nest() {
	KSR.info(KSR.kx.whoami());
	KSR.kx.nest("nest_inner");
	KSR.info(KSR.kx.whoami());
}`,
		"nest_inner": `function nest_inner() { KSR.info(KSR.kx.whoami()); KSR.x.exit(); }`,
		"runaway": `function runaway() {
	for (;;) {} // MARK
}`,
		"bomb": `function bomb() {
	var s = "x";
	for (;;) { s = s + s; }
}`,
		"script_error": `function script_error() {
	var t = null;
	return t.field; // MARK
}`,
		"go_error": `function go_error() {
	KSR.kx.fail(); // MARK
}`,
		"go_panic": `function go_panic() { KSR.kx.crash(); }`,
		"count": `var counter = 0;
function count() { counter++; KSR.info(String(counter)); }`,
	}})
}
