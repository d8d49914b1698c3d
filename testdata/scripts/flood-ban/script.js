// The anti-flood part of Kamailio's kamailio-basic-kemi-jsdt.js.
function ksr_request_route() {
	var srcip = KSR.kx.get_srcip();
	if (KSR.htable.sht_match_name("ipban", "eq", srcip) > 0) {
		KSR.info("request from blocked IP " + srcip + " (banned "
				+ KSR.htable.sht_get("ipban", srcip) + ")\n");
		KSR.x.exit();
	}
	if (KSR.pike.pike_check_req() < 0) {
		KSR.err("ALERT: pike blocking " + KSR.kx.get_method()
				+ " from " + srcip + "\n");
		KSR.htable.sht_seti("ipban", srcip, 1);
		KSR.x.exit();
	}
	KSR.sl.sl_send_reply(200, "OK");
}
