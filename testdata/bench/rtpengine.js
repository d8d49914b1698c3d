// The rtpengine bench in JavaScript (see rtpengine.lua).
var F = "replace-origin replace-session-connection ICE=remove RTP/AVP";
function ksr_request_route() {
	if (KSR.is_BYE()) {
		KSR.rtpengine.rtpengine_manage0();
	} else if (KSR.is_INVITE()) {
		KSR.tm.t_on_branch("ksr_b");
		KSR.tm.t_on_reply("ksr_r");
	}
	KSR.tm.t_relay();
}
function ksr_b() { KSR.rtpengine.rtpengine_manage(F); }
function ksr_r() { KSR.rtpengine.rtpengine_manage(F); }
