// xlog at every level, with pseudo-variables in the format.
function ksr_request_route() {
	KSR.pv.sets("$var(who)", "carol");
	KSR.xlog.xinfo("$rm from $fU to $(ru{uri.user}) via $si v=$var(who) none=$var(none)\n");
	KSR.xlog.xlog("L_NOTICE", "notice $ci\n");
	KSR.xlog.xdbg("dbg $cs\n");
	KSR.xlog.xwarn("warn $ua\n");
	KSR.xlog.xcrit("crit\n");
	KSR.xlog.xalert("alert\n");
	KSR.xlog.xerr("err\n");
	KSR.xlog.xlog_facility("LOG_LOCAL1", "L_INFO", "facility\n");
	var bad = KSR.xlog.xerr("bad $nosuch\n");
	KSR.sl.sl_send_reply(200, "bad=" + bad + " ok=" + KSR.xlog.xdbg("done\n"));
}
