// An offer to an rtpengine that does not answer fails in the script.
function ksr_request_route() {
	var rc = KSR.rtpengine.rtpengine_offer("replace-origin replace-session-connection ICE=remove");
	if (rc < 0) {
		KSR.sl.sl_send_reply(503, "media relay down rc=" + rc + " stat=" + KSR.pv.gete("$rtpstat"));
		return;
	}
	KSR.sl.sl_send_reply(200, "OK");
}
