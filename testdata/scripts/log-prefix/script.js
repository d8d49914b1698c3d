// log lines of the script: KSR.info, xlog, a bad xlog format.
function ksr_request_route() {
	KSR.info("hello from the script\n");
	KSR.xlog.xnotice("xlog $rm from $fU\n");
	KSR.xlog.xerr("bad $nosuch\n");
	KSR.sl.sl_send_reply(200, "OK");
}
