-- Media through rtpengine (the e2e rtpengine test): the INVITE's SDP is
-- offered in the branch route, the reply's answered in the onreply
-- route, and BYE deletes the session, all with rtpengine_manage.
local FLAGS = "replace-origin replace-session-connection ICE=remove RTP/AVP"

function ksr_request_route()
	if KSR.is_BYE() then
		KSR.info("rtpstat: " .. KSR.pv.gete("$rtpstat") .. "\n")
		if KSR.rtpengine.rtpengine_manage0() > 0 then KSR.info("media deleted\n") end
	elseif KSR.is_INVITE() then
		KSR.tm.t_on_branch("ksr_media_branch")
		KSR.tm.t_on_reply("ksr_media_reply")
	end
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_media_branch()
	if KSR.rtpengine.rtpengine_manage(FLAGS) < 0 then
		KSR.err("offer failed\n")
		KSR.x.drop()
	end
end

function ksr_media_reply()
	if KSR.rtpengine.rtpengine_manage(FLAGS) > 0 then KSR.info("reply media rewritten\n") end
end
