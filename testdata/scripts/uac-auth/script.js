// uac_auth: the next hop answers 407; the failure route adds the
// credentials for its realm and relays again.
function ksr_request_route() {
	KSR.tm.t_on_failure("ksr_failure");
	KSR.tm.t_relay();
}

function ksr_failure() {
	if (KSR.tm.t_is_canceled() > 0) return;
	if (KSR.tm.t_check_status("401|407") > 0) {
		var rc = KSR.uac.uac_auth();
		KSR.info("uac_auth rc " + rc);
		if (rc > 0) KSR.tm.t_relay();
		KSR.info("sent with " + KSR.hdr.gete("Proxy-Authorization"));
	}
}
