-- Registration and location, the way kamailio-basic-kemi-lua.lua does it.
function ksr_request_route()
	if KSR.is_REGISTER() then
		if KSR.registrar.save("location", 0) < 0 then
			KSR.sl.sl_reply_error()
		end
		KSR.x.exit()
	end
	local rc = KSR.registrar.lookup("location")
	if rc < 0 then
		KSR.info("lookup rc " .. rc)
		if rc == -1 or rc == -3 then
			KSR.sl.send_reply(404, "Not Found")
		elseif rc == -2 then
			KSR.sl.send_reply(405, "Method Not Allowed")
		end
		KSR.x.exit()
	end
	KSR.info("lookup ruri " .. KSR.kx.get_ruri())
	KSR.sl.sl_send_reply(200, "Found")
end
