-- Stateful relay: 100 Trying, retransmission absorbed, onreply route.
function ksr_request_route()
	KSR.tm.t_on_reply("ksr_onreply")
	KSR.setdsturi("sip:127.0.0.1:5070")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_onreply()
	KSR.info("onreply " .. KSR.tm.t_get_status_code() .. " branch " .. KSR.tm.t_get_branch_index())
end
