// Issue 13: $proto, $conid, KSR.kx.get_conid, KSR.is_TCP/is_TLS.
function yn(b) { return b ? "yes" : "no"; }
function ksr_request_route() {
	var conid = KSR.pv.get("$conid");
	if (conid === null) conid = "none";
	KSR.sl.sl_send_reply(200, KSR.pv.get("$proto") + " conid " + conid + " kx " + KSR.kx.get_conid() +
		" tcp " + yn(KSR.is_TCP()) + " tls " + yn(KSR.is_TLS()));
}
