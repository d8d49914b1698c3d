// per-module log levels: xlog's debug lines show, the script's do not.
function ksr_request_route() {
	KSR.dbg("script dbg\n");
	KSR.xlog.xdbg("xlog dbg $rm\n");
	KSR.warn("warn from the script\n");
	KSR.tm.t_on_failure("");
	KSR.tm.t_relay_to_proto_addr("sctp", "127.0.0.1", 9);
	KSR.sl.sl_send_reply(200, "OK");
}
