-- The anti-flood part of Kamailio's kamailio-basic-kemi-lua.lua.
function ksr_request_route()
	local srcip = KSR.kx.get_srcip()
	if KSR.htable.sht_match_name("ipban", "eq", srcip) > 0 then
		KSR.info("request from blocked IP " .. srcip .. " (banned "
				.. KSR.htable.sht_get("ipban", srcip) .. ")\n")
		KSR.x.exit()
	end
	if KSR.pike.pike_check_req() < 0 then
		KSR.err("ALERT: pike blocking " .. KSR.kx.get_method()
				.. " from " .. srcip .. "\n")
		KSR.htable.sht_seti("ipban", srcip, 1)
		KSR.x.exit()
	end
	KSR.sl.sl_send_reply(200, "OK")
end
