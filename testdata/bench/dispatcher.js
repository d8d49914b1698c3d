// The dispatcher bench in JavaScript (see dispatcher.lua).
function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return;
	}
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.dialog.dlg_manage();
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
	if (KSR.is_INVITE()) {
		KSR.dialog.dlg_manage();
		KSR.rr.record_route();
	}
	if (KSR.dispatcher.ds_select_dst(1, 4) < 0) {
		KSR.sl.sl_send_reply(503, "No destination");
		return;
	}
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}
