local function stop_here()
	KSR.x.exit()
	KSR.sl.sl_send_reply(500, "after nested exit")
end

function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.sl.sl_send_reply(200, "before exit")
		KSR.x.exit()
		KSR.sl.sl_send_reply(500, "after exit")
	elseif KSR.is_INFO() then
		KSR.sl.sl_send_reply(202, "before drop")
		KSR.x.drop()
		KSR.sl.sl_send_reply(500, "after drop")
	else
		KSR.sl.sl_send_reply(200, "before nested exit")
		stop_here()
		KSR.sl.sl_send_reply(500, "after the call")
	end
end
