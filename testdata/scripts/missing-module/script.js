function ksr_request_route() {
	if (KSR.tm === undefined && KSR.maxfwd === undefined && KSR.sl !== undefined) {
		KSR.sl.sl_send_reply(200, "no tm, no maxfwd, sl loaded");
	} else {
		KSR.sl.sl_send_reply(500, "probe failed");
	}
}
