// dispatcher selection: see scenario.yaml.
function ksr_request_route() {
	var d = KSR.dispatcher;
	d.ds_select_dst(1, 4);
	var rr = KSR.pv.get("$du");
	d.ds_select_dst(1, 0);
	var hash = KSR.pv.get("$du");
	d.ds_select_domain(2, 9);
	var alg10 = d.ds_select_dst(1, 10);
	var set9 = d.ds_select_dst(9, 4);
	KSR.sl.sl_send_reply(200, "rr=" + rr + " hash=" + hash + " ru=" + KSR.pv.get("$ru") +
		" alg10=" + alg10 + " set9=" + set9 + " active=" + d.ds_is_active(1) + " exists=" + d.ds_list_exists(2));
}
