// The seed's logic, plus a runtime error on MESSAGE and a runaway loop on INFO.
function ksr_request_route() {
	if (KSR.is_method("MESSAGE")) {
		var t = null;
		return t.field;
	}
	if (KSR.is_method("INFO")) {
		while (true) {}
	}
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.send_reply(483, "Too Many Hops");
		return;
	}
	KSR.sl.sl_send_reply(200, "OK JS");
}
