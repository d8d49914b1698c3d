// The IP authorization step of Kamailio's ksr_route_auth.
function ksr_request_route() {
	if (KSR.permissions && !KSR.is_REGISTER()) {
		if (KSR.permissions.allow_source_address(1) > 0) {
			KSR.sl.sl_send_reply(200, "trusted grp=" + KSR.permissions.allow_source_address_group()
					+ " peer=" + KSR.pv.getw("$avp(peer)")
					+ " g2=" + KSR.permissions.allow_source_address(2)
					+ " any=" + KSR.permissions.allow_address(2, "192.0.2.99", 5060)
					+ " trust=" + KSR.permissions.allow_trusted());
			return;
		}
	}
	KSR.sl.sl_send_reply(403, "not trusted grp=" + KSR.permissions.allow_source_address_group()
			+ " peer=" + KSR.pv.getw("$avp(peer)")
			+ " trust=" + KSR.permissions.allow_trusted());
}
