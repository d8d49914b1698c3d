-- The routing of interop.cfg, for Kamailio and kemi alike.
function ksr_request_route()
	if KSR.is_REGISTER() then
		KSR.registrar.save("location", 0)
		return
	end
	if KSR.is_OPTIONS() then
		if KSR.registrar.lookup("location") == 1 then
			KSR.sl.sl_send_reply(200, "Found " .. KSR.pv.get("$ru"))
		else
			KSR.sl.sl_send_reply(404, "Not Found")
		end
		return
	end
	KSR.sl.sl_send_reply(501, "Not Implemented")
end
