// Resolved against this file's folder: lib/names.js.
var names = require("./names");

exports.handle = function () {
	var m = KSR.kx.get_method();
	KSR.info("module route for " + m);
	KSR.sl.sl_send_reply(200, names.reason + " " + m);
};
