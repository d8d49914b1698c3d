-- The seed's logic, plus a runtime error on MESSAGE and a runaway loop on INFO.
function ksr_request_route()
	if KSR.is_method("MESSAGE") then
		local t = nil
		return t.field
	end
	if KSR.is_method("INFO") then
		while true do end
	end
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.send_reply(483, "Too Many Hops")
		return
	end
	KSR.sl.sl_send_reply(200, "OK Lua")
end
