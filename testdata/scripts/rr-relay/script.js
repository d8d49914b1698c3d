// A record-routing stateful proxy.
function ksr_request_route() {
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.tm.t_relay();
		} else {
			KSR.sl.sl_send_reply(404, "Not Here");
		}
		return;
	}
	KSR.rr.record_route();
	KSR.hdr.append("X-Proxy: kemi\r\n");
	KSR.textops.subst_user("/^0/+49/");
	KSR.tm.t_relay();
}
