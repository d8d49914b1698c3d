function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		var n = 0;
		while (true) { n++; }
	}
	KSR.sl.sl_send_reply(200, "still serving");
}
