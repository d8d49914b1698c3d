// Issue 11: malformed requests reach the script; sanity_check answers them.
function ksr_request_route() {
	var ci = KSR.pv.get("$ci");
	if (ci == "short-body@scenario") {
		KSR.info("script saw short-body body=[" + KSR.pv.get("$rb").replace(/\r\n/g, "") + "] cl=" + KSR.pv.get("$cl") + "\n");
	} else if (ci == "short-body-ack@scenario") {
		KSR.info("script saw short-body-ack\n");
	} else if (ci == "cseq-1x@scenario") {
		KSR.info("script saw cseq-1x\n");
	}
	if (KSR.sanity.sanity_check_defaults() < 0) {
		KSR.x.exit();
	}
	KSR.sl.sl_send_reply(200, "fine");
}
