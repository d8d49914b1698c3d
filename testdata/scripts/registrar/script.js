// Registration and location, the way kamailio-basic-kemi-jsdt.js does it.
function ksr_request_route() {
	if (KSR.is_REGISTER()) {
		if (KSR.registrar.save("location", 0) < 0) {
			KSR.sl.sl_reply_error();
		}
		KSR.x.exit();
	}
	var rc = KSR.registrar.lookup("location");
	if (rc < 0) {
		KSR.info("lookup rc " + rc);
		if (rc == -1 || rc == -3) {
			KSR.sl.send_reply(404, "Not Found");
		} else if (rc == -2) {
			KSR.sl.send_reply(405, "Method Not Allowed");
		}
		KSR.x.exit();
	}
	KSR.info("lookup ruri " + KSR.kx.get_ruri());
	KSR.sl.sl_send_reply(200, "Found");
}
