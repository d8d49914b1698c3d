// sdpops: test an SDP offer, edit it, and say what was seen in the reply.
function ksr_request_route() {
	if (KSR.sdpops.sdp_content() < 0) {
		KSR.sl.sl_send_reply(488, "Not Acceptable Here");
		return;
	}
	var r = "ice=" + KSR.sdpops.sdp_with_ice() +
		" video=" + KSR.sdpops.sdp_with_media("video") +
		" pcma=" + KSR.sdpops.sdp_with_codecs_by_name("PCMA") +
		" g729=" + KSR.sdpops.sdp_with_codecs_by_name("G729") +
		" id101=" + KSR.sdpops.sdp_with_codecs_by_id("101") +
		" tr=" + KSR.sdpops.sdp_transport("$avp(tr)") +
		" af=" + KSR.sdpops.sdp_get_address_family();
	KSR.sdpops.remove_codecs_by_name("PCMA", "audio");
	KSR.sdpops.remove_media("video");
	KSR.sdpops.remove_line_by_prefix("a=candidate", "");
	KSR.sdpops.sdp_get_line_startswith("$avp(m)", "m=");
	r = r + " after=" + KSR.sdpops.sdp_with_codecs_by_name("PCMA") +
		" ice2=" + KSR.sdpops.sdp_with_ice() +
		" video2=" + KSR.sdpops.sdp_with_media("video") +
		" tr2=" + KSR.sdpops.sdp_transport("$avp(tr)") + " " + KSR.pv.get("$avp(tr)") +
		" m=" + KSR.pv.get("$avp(m)");
	KSR.sl.sl_send_reply(200, r);
}
