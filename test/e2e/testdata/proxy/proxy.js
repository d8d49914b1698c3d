// A stateful record-routing proxy for the end-to-end tests; see proxy.lua.
// UAS1 and UAS2 are defined by a line the test puts before this file.
function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return;
	}
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.tm.t_relay();
			return;
		}
		if (KSR.is_ACK()) {
			if (KSR.tm.t_check_trans() > 0) KSR.tm.t_relay();
			return;
		}
		KSR.sl.sl_send_reply(404, "Not here");
		return;
	}
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) KSR.tm.t_relay();
		return;
	}
	KSR.hdr.remove("Route");
	if (KSR.is_INVITE()) KSR.rr.record_route();
	var user = KSR.kx.gete_ruser();
	if (user == "unknown") {
		KSR.setdsturi("sip:callee.invalid:5060");
	} else if (user == "tcpcall") {
		KSR.setdsturi("sip:127.0.0.1:" + UAS1 + ";transport=tcp");
	} else {
		KSR.setdsturi("sip:127.0.0.1:" + UAS1);
	}
	if (user == "busy" || user == "silent") KSR.tm.t_on_failure("ksr_failure_route");
	if (user == "silent") KSR.tm.t_set_fr(2000, 1000);
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}

function ksr_failure_route() {
	KSR.info("failure route: status " + KSR.tm.t_get_status_code() + "\n");
	if (KSR.tm.t_is_canceled() > 0) return;
	if (KSR.tm.t_branch_timeout() > 0) {
		KSR.tm.t_reply(408, "Failure Route Timeout");
		return;
	}
	if (KSR.tm.t_check_status("486") > 0) {
		KSR.setdsturi("sip:127.0.0.1:" + UAS2);
		KSR.tm.t_relay();
	}
}
