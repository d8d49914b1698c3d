// fr_timer: the callee never answers; after fr_timer the failure route
// runs with 408 and answers 480 upstream. kemi test's fake clock (wait
// steps) makes the 30 s pass at once.
function ksr_request_route() {
	KSR.tm.t_on_failure("ksr_failure");
	KSR.setdsturi("sip:127.0.0.1:5070");
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}

function ksr_failure() {
	KSR.info("failure route " + KSR.tm.t_get_status_code());
	if (KSR.tm.t_check_status("408") > 0) {
		KSR.tm.t_reply(480, "Temporarily Unavailable");
	}
}
