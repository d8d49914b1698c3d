-- A message whose script asks for 2 GiB at once fails with the memory
-- budget error; the next message is served.
function ksr_request_route()
	if KSR.is_OPTIONS() then
		local s = string.rep("x", 2^31)
		KSR.sl.sl_send_reply(200, "made " .. #s)
	end
	KSR.sl.sl_send_reply(200, "still serving")
end
