// acc records: see scenario.yaml.
function ksr_request_route() {
	if (KSR.siputils.has_totag() > 0) {
		KSR.rr.loose_route();
		if (KSR.pv.get("$rm") == "BYE") {
			KSR.setflag(1);
		}
		KSR.dialog.dlg_manage();
		KSR.tm.t_relay();
		return;
	}
	KSR.dialog.dlg_manage();
	KSR.dialog.var_sets("caller", KSR.pv.get("$fU"));
	KSR.setflag(1);
	KSR.setflag(2);
	KSR.setflag(3);
	KSR.rr.record_route();
	KSR.pv.sets("$du", "sip:127.0.0.1:5071");
	KSR.tm.t_relay();
}
