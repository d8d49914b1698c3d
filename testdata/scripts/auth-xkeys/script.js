// auth_xkeys: check the peer's X-Auth over "$si:$fu", then sign with the
// newest key of the group.
function ksr_request_route() {
	var data = KSR.pv.get("$si") + ":" + KSR.pv.get("$fu");
	if (KSR.auth_xkeys.auth_xkeys_check("X-Auth", "peers", "sha256", data) < 0) {
		KSR.sl.sl_send_reply(403, "Forbidden");
		return;
	}
	KSR.hdr.remove("X-Auth");
	var add = KSR.auth_xkeys.auth_xkeys_add("X-Sig", "PEERS", "sha256", data);
	var bad = KSR.auth_xkeys.auth_xkeys_add("X-Sig", "peers", "md5", data);
	KSR.sl.sl_send_reply(200, "check=1 add=" + add + " bad=" + bad);
}
