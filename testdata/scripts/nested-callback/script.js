// A branch route runs inside t_relay; the request route goes on after it.
function ksr_request_route() {
	KSR.tm.t_on_branch("ksr_branch");
	KSR.setdsturi("sip:127.0.0.1:5070");
	KSR.tm.t_relay();
	KSR.info("after t_relay " + KSR.kx.get_method());
}
function ksr_branch() { KSR.info("in branch " + KSR.kx.get_method()); }
