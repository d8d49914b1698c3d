// kemi's registrar, in JavaScript: the same routing as kemi.lua (see the
// comments there and in kemi-js.cfg). It guards the door (bans, floods,
// scanners, Max-Forwards, malformed requests), answers keepalive OPTIONS,
// lets tm absorb CANCELs and retransmissions, routes in-dialog requests
// by their Route set, authenticates local users, saves bindings and
// routes calls to them.

var FL_NATTED = 5; // per request: the sender is behind NAT
var BF_NATTED = 6; // per branch: the callee is behind NAT

var SCANNERS = ["friendly", "scanner", "sipcli", "sipvicious"];

// relay sends the request on statefully and ends the script.
function relay() {
	if (KSR.is_method_in("IBSU") && KSR.tm.t_is_set("branch_route") < 0) {
		KSR.tm.t_on_branch("kemi_branch");
	}
	if (KSR.is_method_in("ISU") && KSR.tm.t_is_set("onreply_route") < 0) {
		KSR.tm.t_on_reply("kemi_reply");
	}
	if (KSR.is_INVITE() && KSR.tm.t_is_set("failure_route") < 0) {
		KSR.tm.t_on_failure("kemi_failure");
	}
	if (KSR.tm.t_relay() < 0) {
		KSR.sl.sl_reply_error();
	}
	KSR.x.exit();
}

function fromScanner() {
	var ua = KSR.kx.gete_ua();
	for (var i = 0; i < SCANNERS.length; i++) {
		if (ua.indexOf(SCANNERS[i]) >= 0) {
			return true;
		}
	}
	return false;
}

// guard turns away what should not be routed at all.
function guard() {
	KSR.set_reply_no_connect();
	KSR.force_rport();
	// Our own addresses are never counted or banned.
	if (!KSR.is_myself_srcip()) {
		var ip = KSR.kx.get_srcip();
		if (KSR.htable.sht_match_name("ipban", "eq", ip) > 0) {
			KSR.x.exit(); // banned: no answer at all
		}
		if (KSR.pike.pike_check_req() < 0) {
			KSR.err("pike blocking " + KSR.kx.get_method() + " from " + ip +
				":" + KSR.kx.get_srcport() + "\n");
			KSR.htable.sht_seti("ipban", ip, 1);
			KSR.x.exit();
		}
	}
	// Scanners get a plain 200 so they move on, and nothing more.
	if (fromScanner()) {
		KSR.sl.sl_send_reply(200, "OK");
		KSR.x.exit();
	}
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		KSR.x.exit();
	}
	if (KSR.is_OPTIONS() && KSR.is_myself_ruri() && KSR.corex.has_ruri_user() < 0) {
		KSR.sl.sl_send_reply(200, "Keepalive");
		KSR.x.exit();
	}
	// 17895: R-URI version and scheme, required headers, CSeq method and
	// number, Content-Length, Expires, URIs, top Via; 7: R-URI, From, To.
	if (KSR.sanity.sanity_check(17895, 7) < 0) {
		KSR.err("malformed request from " + KSR.kx.get_srcip() + ":" + KSR.kx.get_srcport() + "\n");
		KSR.x.exit();
	}
}

// nat marks senders behind NAT and points their Contact at the address
// the request really came from.
function nat() {
	if (!KSR.nathelper) {
		return;
	}
	if (KSR.nathelper.nat_uac_test(19) > 0) {
		if (KSR.is_REGISTER()) {
			KSR.nathelper.fix_nated_register();
		} else if (KSR.siputils.is_first_hop() > 0) {
			KSR.nathelper.set_contact_alias();
		}
		KSR.setflag(FL_NATTED);
	}
}

// inDialog routes requests that carry a To tag, then ends the script.
function inDialog() {
	if (KSR.siputils.has_totag() < 0) {
		return;
	}
	if (KSR.rr.loose_route() > 0) {
		if (KSR.nathelper && !KSR.isdsturiset()) {
			KSR.nathelper.handle_ruri_alias();
		}
		if (KSR.is_NOTIFY()) {
			KSR.rr.record_route(); // RFC 6665: in-dialog NOTIFY record-routes
		}
		relay();
	}
	if (KSR.is_ACK()) {
		// An ACK to a negative final answer belongs to a transaction;
		// any other ACK without a route has nowhere to go.
		if (KSR.tm.t_check_trans() > 0) {
			relay();
		}
		KSR.x.exit();
	}
	KSR.sl.sl_send_reply(404, "Not here");
	KSR.x.exit();
}

// authenticate checks who is calling or registering.
function authenticate() {
	if (!KSR.auth) {
		return;
	}
	var localCaller = KSR.is_myself_furi();
	if (KSR.is_REGISTER() || localCaller) {
		var realm = KSR.kx.gete_fhost();
		if (KSR.auth_db.auth_check(realm, "subscriber", 1) < 0) {
			KSR.auth.auth_challenge(realm, 0);
			KSR.x.exit();
		}
		// The credentials are for us, not for the next hop.
		if (!KSR.is_method_in("RP")) {
			KSR.auth.consume_credentials();
		}
	}
	// Not an open relay: someone else's user may only call ours.
	if (!localCaller && !KSR.is_myself_ruri()) {
		KSR.sl.sl_send_reply(403, "Not relaying");
		KSR.x.exit();
	}
}

function register() {
	if (KSR.isflagset(FL_NATTED)) {
		KSR.setbflag(BF_NATTED);
	}
	// save answers the REGISTER itself, errors included (400, 500, 503):
	// a second reply here would answer it twice.
	KSR.registrar.save("location", 0);
	KSR.x.exit();
}

// locate turns the called user into the contacts it registered.
function locate() {
	var rc = KSR.registrar.lookup("location");
	if (rc == -2) {
		KSR.tm.t_newtran();
		KSR.sl.send_reply(405, "Method Not Allowed");
		KSR.x.exit();
	} else if (rc < 0) {
		KSR.tm.t_newtran();
		KSR.sl.send_reply(404, "Not Found");
		KSR.x.exit();
	}
	relay();
}

function ksr_request_route() {
	guard();
	nat();

	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) {
			relay();
		}
		return;
	}
	if (!KSR.is_ACK()) {
		// A retransmission of a request tm is already handling: tm
		// resends its last answer, the script does nothing.
		if (KSR.tmx.t_precheck_trans() > 0) {
			KSR.tm.t_check_trans();
			return;
		}
		if (KSR.tm.t_check_trans() == 0) {
			return;
		}
	}

	inDialog();
	authenticate();

	KSR.hdr.remove("Route"); // a new dialog starts here: drop preloaded routes
	if (KSR.is_method_in("IS")) {
		KSR.rr.record_route();
	}

	if (!KSR.is_myself_ruri()) {
		// Another domain's user: send it on.
		KSR.hdr.append("P-Hint: outbound\r\n");
		relay();
	}
	if (KSR.is_REGISTER()) {
		register();
	}
	if (KSR.corex.has_ruri_user() < 0) {
		KSR.sl.sl_send_reply(484, "Address Incomplete");
		return;
	}
	locate();
}

function kemi_branch() {
	KSR.dbg("branch " + KSR.pv.get("$T_branch_idx") + " to " + KSR.kx.get_ruri() + "\n");
}

function kemi_reply() {
	KSR.dbg("reply " + KSR.kx.get_status() + "\n");
}

function kemi_failure() {
	if (KSR.tm.t_is_canceled() > 0) {
		return;
	}
}

function ksr_reply_route() {
	// 17604: required headers, CSeq number, Content-Length, URIs, top
	// Via; 6: From and To URIs.
	if (KSR.sanity.sanity_check(17604, 6) < 0) {
		KSR.err("malformed reply from " + KSR.kx.get_srcip() + ":" + KSR.kx.get_srcport() + "\n");
		KSR.x.drop();
	}
}
