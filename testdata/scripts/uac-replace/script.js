// uac_replace_from hides the caller; restore_mode auto keeps the original
// URI in the Record-Route (vsf) and uac_restore_from puts the right URI
// back in the dialog's later requests, both ways.
function ksr_request_route() {
	KSR.tm.t_on_branch("ksr_branch");
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.info("restore rc " + KSR.uac.uac_restore_from());
			KSR.tm.t_relay();
		}
		return;
	}
	KSR.rr.record_route();
	KSR.info("replace rc " + KSR.uac.uac_replace_from("\"Anonymous\"", "sip:anonymous@anonymous.invalid"));
	KSR.info("again rc " + KSR.uac.uac_replace_from_uri("sip:x@y.invalid"));
	KSR.tm.t_relay();
}

function ksr_branch() {
	KSR.info("out From: " + KSR.hdr.gete("From") + " To: " + KSR.hdr.gete("To") + " RR: " + KSR.hdr.gete("Record-Route"));
}
