// A load balancer (see kemi-js.cfg and lb.lua, which this follows).
function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return;
	}
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.tm.t_relay();
			return;
		}
		if (KSR.is_ACK()) {
			if (KSR.tm.t_check_trans() > 0) KSR.tm.t_relay();
			return;
		}
		KSR.sl.sl_send_reply(404, "Not here");
		return;
	}
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) KSR.tm.t_relay();
		return;
	}
	KSR.hdr.remove("Route");
	if (KSR.is_INVITE()) KSR.rr.record_route();
	var user = KSR.kx.gete_ruser();
	var set = 1, alg = 4;
	if (user == "hash") {
		alg = 0;
	} else if (user == "weight") {
		set = 2;
		alg = 9;
	}
	if (KSR.dispatcher.ds_select_dst(set, alg) < 0) {
		KSR.sl.sl_send_reply(503, "No destination");
		return;
	}
	KSR.tm.t_on_failure("ksr_failure_route");
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}

function ksr_failure_route() {
	if (KSR.tm.t_is_canceled() > 0) return;
	if (KSR.tm.t_check_status("5[0-9][0-9]") > 0 || KSR.tm.t_branch_timeout() > 0) {
		KSR.dispatcher.ds_mark_dst_state("tp");
		if (KSR.dispatcher.ds_next_dst() > 0) {
			KSR.info("failover to " + KSR.pv.get("$du") + "\n");
			KSR.tm.t_on_failure("ksr_failure_route");
			KSR.tm.t_relay();
		}
	}
}

function ksr_dispatcher_event(evname) {
	KSR.info("dispatcher event " + evname + " " + KSR.pv.get("$du") + " " + KSR.pv.get("$dsv(flags)") + "\n");
}
