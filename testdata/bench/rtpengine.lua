-- The rtpengine bench: offer in the branch route, answer in the onreply
-- route, delete on BYE (see rtpengine-kamailio.cfg).
local F = "replace-origin replace-session-connection ICE=remove RTP/AVP"
function ksr_request_route()
	if KSR.is_BYE() then
		KSR.rtpengine.rtpengine_manage0()
	elseif KSR.is_INVITE() then
		KSR.tm.t_on_branch("ksr_b")
		KSR.tm.t_on_reply("ksr_r")
	end
	KSR.tm.t_relay()
end
function ksr_b() KSR.rtpengine.rtpengine_manage(F) end
function ksr_r() KSR.rtpengine.rtpengine_manage(F) end
