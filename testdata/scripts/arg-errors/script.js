function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		KSR.sl.sl_send_reply("two hundred", "OK");
	} else {
		KSR.sl.sl_send_reply(200);
	}
	KSR.sl.sl_send_reply(500, "not reached");
}
