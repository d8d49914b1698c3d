-- Assigning to KSR's members fails that message; the next message still
-- finds the real functions.
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.sl = nil
		KSR.info("assigned")
	end
	KSR.sl.sl_send_reply(200, "still serving")
end
