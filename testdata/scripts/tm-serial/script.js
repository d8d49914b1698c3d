// Serial forking: the failure route sends a refused call to a second callee.
function ksr_request_route() {
	KSR.tm.t_on_failure("ksr_failure");
	KSR.setdsturi("sip:127.0.0.1:5070");
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}

function ksr_failure() {
	KSR.info("failure route " + KSR.tm.t_get_status_code() + " failure=" + KSR.tmx.t_is_failure_route());
	if (KSR.tm.t_is_canceled() > 0) return;
	if (KSR.tm.t_check_status("486|408") > 0) {
		KSR.setdsturi("sip:127.0.0.1:5071");
		KSR.tm.t_relay();
	}
}
