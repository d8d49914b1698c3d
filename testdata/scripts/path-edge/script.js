// An edge proxy: Path on REGISTERs, use_received on what comes back.
function ksr_request_route() {
	if (KSR.is_REGISTER()) {
		var user = "edge";
		if (KSR.pv.gete("$fU") == "mallory") {
			user = "edge>";
		}
		if (KSR.path.add_path_received_user(user) < 0) {
			KSR.sl.sl_send_reply(500, "Internal Path Error");
			return;
		}
		KSR.tm.t_relay_to_proto_addr("udp", "127.0.0.1", 5070);
		return;
	}
	var rc = KSR.rr.loose_route();
	KSR.info("loose_route=" + rc + " du=" + KSR.pv.gete("$du"));
	KSR.tm.t_relay();
}
