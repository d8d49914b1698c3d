// NAT detection and alias handling of Kamailio's kamailio-basic-kemi-jsdt.js.
function ksr_request_route() {
	KSR.force_rport();
	if (KSR.is_BYE()) {
		// ksr_route_dlguri
		var rc = 0;
		if (!KSR.isdsturiset()) {
			rc = KSR.nathelper.handle_ruri_alias();
		}
		KSR.sl.sl_send_reply(200, "alias=" + rc + " du=" + KSR.pv.getw("$du")
				+ " ru=" + KSR.pv.getw("$ru"));
		return;
	}
	// ksr_route_natdetect
	var nat = KSR.nathelper.nat_uac_test(19);
	var fix = 0;
	if (nat > 0) {
		if (KSR.is_REGISTER()) {
			fix = KSR.nathelper.fix_nated_register();
		} else {
			fix = KSR.nathelper.set_contact_alias();
		}
	}
	var again = KSR.nathelper.set_contact_alias();
	KSR.sl.sl_send_reply(200, "nat=" + nat + " fix=" + fix + " again=" + again
			+ " rcv=" + KSR.pv.getw("$avp(RECEIVED)")
			+ " private=" + KSR.nathelper.is_rfc1918("192.168.1.10"));
}
