function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		var t = null;
		return t.field;
	}
	KSR.sl.sl_send_reply(200, "still serving");
}
