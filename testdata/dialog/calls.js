// Calls with dialog and acc: see kemi-js.cfg.
function ksr_request_route() {
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() < 0) {
			// An ACK of a failure is the transaction's (tm absorbs it);
			// anything else without our Route is not ours.
			if (KSR.pv.get("$rm") == "ACK") {
				if (KSR.tm.t_check_trans() > 0) { KSR.tm.t_relay(); }
				return;
			}
			KSR.sl.sl_send_reply(404, "Not here");
			return;
		}
		if (KSR.pv.get("$rm") == "BYE") {
			KSR.setflag(1);
		}
		KSR.dialog.dlg_manage();
		KSR.tm.t_relay();
		return;
	}
	if (KSR.pv.get("$rm") == "CANCEL") {
		KSR.tm.t_relay();
		return;
	}
	if (KSR.pv.get("$rm") != "INVITE") {
		KSR.sl.sl_send_reply(405, "Method Not Allowed");
		return;
	}
	KSR.dialog.dlg_manage();
	var user = KSR.pv.get("$fU");
	KSR.dialog.set_dlg_profile("caller", user);
	KSR.dialog.get_profile_size("caller", user, "$var(n)");
	if (KSR.pv.get("$var(n)") > 2) {
		KSR.sl.sl_send_reply(486, "Busy Here");
		return;
	}
	KSR.dialog.var_sets("caller", user);
	if (KSR.pv.get("$rU") == "short") {
		KSR.dialog.dlg_set_timeout(3);
	}
	KSR.setflag(1);
	KSR.setflag(2);
	KSR.setflag(3);
	KSR.rr.record_route();
	KSR.pv.sets("$du", KSR.pv.get("$hdr(X-Dst)"));
	KSR.tm.t_relay();
}
