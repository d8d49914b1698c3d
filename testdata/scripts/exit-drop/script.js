function stopHere() {
	KSR.x.exit();
	KSR.sl.sl_send_reply(500, "after nested exit");
}

function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		KSR.sl.sl_send_reply(200, "before exit");
		KSR.x.exit();
		KSR.sl.sl_send_reply(500, "after exit");
	} else if (KSR.is_INFO()) {
		KSR.sl.sl_send_reply(202, "before drop");
		KSR.x.drop();
		KSR.sl.sl_send_reply(500, "after drop");
	} else {
		KSR.sl.sl_send_reply(200, "before nested exit");
		stopHere();
		KSR.sl.sl_send_reply(500, "after the call");
	}
}
