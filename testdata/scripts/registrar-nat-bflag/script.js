// nat_bflag: the REGISTER behind NAT has branch flag 6 set when saved;
// lookup restores it, and the branch route sees it, as Kamailio's
// ksr_branch_manage / ksr_route_natmanage rely on.
var FLB_NATB = 6;

function ksr_request_route() {
	if (KSR.is_REGISTER()) {
		if (KSR.hdr.is_present("X-Nat") > 0) KSR.setbflag(FLB_NATB);
		if (KSR.registrar.save("location", 0) < 0) KSR.sl.sl_reply_error();
		KSR.x.exit();
	}
	if (KSR.registrar.lookup("location") < 0) {
		KSR.sl.send_reply(404, "Not Found");
		KSR.x.exit();
	}
	KSR.tm.t_on_branch("ksr_branch_manage");
	KSR.tm.t_relay();
}

function ksr_branch_manage() {
	if (KSR.isbflagset(FLB_NATB)) {
		KSR.info("branch " + KSR.kx.get_ruri() + " is behind NAT");
	} else {
		KSR.info("branch " + KSR.kx.get_ruri() + " is not behind NAT");
	}
}
