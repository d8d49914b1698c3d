-- NAT detection and alias handling of Kamailio's kamailio-basic-kemi-lua.lua.
function ksr_request_route()
	KSR.force_rport()
	if KSR.is_BYE() then
		-- ksr_route_dlguri
		local rc = 0
		if not KSR.isdsturiset() then
			rc = KSR.nathelper.handle_ruri_alias()
		end
		KSR.sl.sl_send_reply(200, "alias=" .. rc .. " du=" .. KSR.pv.getw("$du")
				.. " ru=" .. KSR.pv.getw("$ru"))
		return
	end
	-- ksr_route_natdetect
	local nat = KSR.nathelper.nat_uac_test(19)
	local fix = 0
	if nat > 0 then
		if KSR.is_REGISTER() then
			fix = KSR.nathelper.fix_nated_register()
		else
			fix = KSR.nathelper.set_contact_alias()
		end
	end
	local again = KSR.nathelper.set_contact_alias()
	KSR.sl.sl_send_reply(200, "nat=" .. nat .. " fix=" .. fix .. " again=" .. again
			.. " rcv=" .. KSR.pv.getw("$avp(RECEIVED)")
			.. " private=" .. KSR.nathelper.is_rfc1918("192.168.1.10"))
end
