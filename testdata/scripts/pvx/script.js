// KSR.pvx: AVPs, script and shared variables, and xavps, by name.
function ksr_request_route() {
	var fresh = KSR.pvx.avp_is_null("n");
	KSR.pvx.avp_seti("n", 1);
	KSR.pvx.avp_sets("n", "two");
	KSR.pvx.var_seti("c", KSR.pvx.var_get("c") + 1);
	KSR.pvx.shv_seti("hits", KSR.pvx.shv_get("hits") + 1);
	var ex = KSR.pvx.xavp_params_explode(KSR.pv.gete("$hdr(X-Params)"), "p");
	KSR.pvx.xavp_sets("p", "plain");
	KSR.xlog.xinfo("b=$xavp(p[1]=>b) hits=$shv(hits)\n");
	var top = KSR.pvx.xavp_get("p");
	KSR.pvx.xavp_rm("p");
	KSR.sl.sl_send_reply(200, "fresh=" + fresh +
		" avp=" + KSR.pvx.avp_get("n") +
		" isnull=" + KSR.pvx.avp_is_null("gone") +
		" hits=" + KSR.pvx.shv_get("hits") +
		" mode=" + KSR.pvx.shv_get("mode") +
		" ex=" + ex +
		" a=" + KSR.pv.gete("$xavp(p[0]=>a)") +
		" top=" + top +
		" e=" + KSR.pvx.xavp_gete("none") +
		" xnull=" + KSR.pvx.xavp_is_null("none") +
		" rm=" + KSR.pvx.xavp_gete("p") +
		" c=" + KSR.pvx.var_get("c"));
}
