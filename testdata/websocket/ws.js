// SIP over WebSocket (RFC 7118) registrar and proxy for browser phones, in
// JavaScript: the same routing as ws.lua (see the comments there), for
// kemi's app_jsdt.

// HTTP on the SIP ports: a WebSocket upgrade goes to the websocket
// module, anything else gets 404.
function ksr_xhttp_event(evname) {
	KSR.set_reply_close();
	KSR.set_reply_no_connect();
	var upgrade = KSR.pv.gete("$hdr(Upgrade)").toLowerCase();
	var conn = KSR.pv.gete("$hdr(Connection)").toLowerCase();
	if (upgrade === "websocket" && conn.indexOf("upgrade") >= 0 && KSR.pv.gete("$rm") === "GET") {
		KSR.websocket.handle_handshake();
		return 1;
	}
	KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "not found\n");
	return 1;
}

function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return 1;
	}
	// 64: the request came over WebSocket.
	if (KSR.nathelper.nat_uac_test(64) > 0) {
		KSR.force_rport();
		if (KSR.is_REGISTER()) {
			KSR.nathelper.fix_nated_register();
		} else if (KSR.nathelper.add_contact_alias() < 0) {
			KSR.sl.sl_send_reply(400, "Bad Contact");
			return 1;
		}
	}
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) {
			KSR.tm.t_relay();
		}
		return 1;
	}
	if (KSR.siputils.has_totag() > 0) {
		withinDialog();
		return 1;
	}
	if (KSR.is_REGISTER()) {
		register();
		return 1;
	}
	if (KSR.is_ACK()) {
		if (KSR.tm.t_check_trans() > 0) {
			KSR.tm.t_relay();
		}
		return 1;
	}
	KSR.rr.record_route();
	if (KSR.registrar.lookup("location") < 0) {
		KSR.sl.sl_send_reply(404, "Not Found");
		return 1;
	}
	relay();
	return 1;
}

function withinDialog() {
	if (KSR.rr.loose_route() > 0) {
		if (KSR.pv.is_null("$du")) {
			KSR.nathelper.handle_ruri_alias();
		}
		relay();
		return;
	}
	if (KSR.is_ACK()) {
		if (KSR.tm.t_check_trans() > 0) {
			KSR.tm.t_relay();
		}
		return;
	}
	KSR.sl.sl_send_reply(404, "Not Here");
}

function register() {
	if (KSR.auth_db) {
		if (KSR.auth_db.auth_check(KSR.pv.get("$fd"), "subscriber", 1) < 0) {
			KSR.auth.auth_challenge(KSR.pv.get("$fd"), 0);
			return;
		}
		KSR.auth.consume_credentials();
	}
	KSR.registrar.save("location", 0);
}

function relay() {
	if (KSR.is_INVITE() || KSR.is_MESSAGE() || KSR.is_BYE()) {
		KSR.tm.t_on_reply("ksr_onreply_manage");
	}
	if (KSR.tm.t_relay() < 0) {
		KSR.sl.sl_reply_error();
	}
}

function ksr_onreply_manage() {
	if (KSR.nathelper.nat_uac_test(64) > 0) {
		KSR.nathelper.add_contact_alias();
	}
}
