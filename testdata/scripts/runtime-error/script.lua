function ksr_request_route()
	if KSR.is_OPTIONS() then
		local t = nil
		return t.field
	end
	KSR.sl.sl_send_reply(200, "still serving")
end
