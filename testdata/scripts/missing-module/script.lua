function ksr_request_route()
	if KSR.tm == nil and KSR.maxfwd == nil and KSR.sl ~= nil then
		KSR.sl.sl_send_reply(200, "no tm, no maxfwd, sl loaded")
	else
		KSR.sl.sl_send_reply(500, "probe failed")
	end
end
