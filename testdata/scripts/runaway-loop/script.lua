function ksr_request_route()
	if KSR.is_OPTIONS() then
		local n = 0
		while true do n = n + 1 end
	end
	KSR.sl.sl_send_reply(200, "still serving")
end
