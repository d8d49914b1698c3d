-- Issue 11: alias= forms and KSR.is_myself_ruri.
function ksr_request_route()
	if KSR.is_myself_ruri() then
		KSR.sl.sl_send_reply(200, "myself")
	else
		KSR.sl.sl_send_reply(404, "not myself")
	end
end
