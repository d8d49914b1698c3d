// Issue 11: t_newtran + t_reply sends no 100; t_relay after t_newtran does.
function ksr_request_route() {
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) { KSR.tm.t_relay(); }
		return;
	}
	KSR.tm.t_newtran();
	if (KSR.pv.get("$rU") == "busy") {
		KSR.tm.t_reply(486, "Busy Here");
		return;
	}
	KSR.setdsturi("sip:127.0.0.1:5070");
	if (KSR.tm.t_relay() < 0) { KSR.sl.sl_reply_error(); }
}
