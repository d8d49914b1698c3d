// Media through rtpengine (the e2e rtpengine test): the INVITE's SDP is
// offered in the branch route, the reply's answered in the onreply
// route, and BYE deletes the session, all with rtpengine_manage.
var FLAGS = "replace-origin replace-session-connection ICE=remove RTP/AVP";

function ksr_request_route() {
	if (KSR.is_BYE()) {
		KSR.info("rtpstat: " + KSR.pv.gete("$rtpstat") + "\n");
		if (KSR.rtpengine.rtpengine_manage0() > 0) KSR.info("media deleted\n");
	} else if (KSR.is_INVITE()) {
		KSR.tm.t_on_branch("ksr_media_branch");
		KSR.tm.t_on_reply("ksr_media_reply");
	}
	if (KSR.tm.t_relay() < 0) KSR.sl.sl_reply_error();
}

function ksr_media_branch() {
	if (KSR.rtpengine.rtpengine_manage(FLAGS) < 0) {
		KSR.err("offer failed\n");
		KSR.x.drop();
	}
}

function ksr_media_reply() {
	if (KSR.rtpengine.rtpengine_manage(FLAGS) > 0) KSR.info("reply media rewritten\n");
}
