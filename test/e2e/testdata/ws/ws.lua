-- Registrar and record-routing proxy for WebSocket clients, after the
-- example of Kamailio's websocket module README: the xhttp callback
-- answers GET /status, hands /RPC to the JSON-RPC server and /metrics to
-- xhttp_prom, upgrades
-- WebSocket handshakes and answers 404 to the rest; SIP from WebSocket
-- clients gets Kamailio's NAT treatment (fix_nated_register,
-- add_contact_alias, handle_ruri_alias). Requests to user "uas" go to the
-- UDP callee at UAS1; others to the location table.

function ksr_xhttp_event(evname)
	-- As Kamailio's websocket README: HTTP answers close their
	-- connection, the handshake's 101 does not.
	KSR.set_reply_close()
	KSR.set_reply_no_connect()
	local url = KSR.pv.get("$hu")
	if KSR.hdr.is_present("Upgrade") > 0 and string.lower(KSR.hdr.get("Upgrade")) == "websocket" then
		if KSR.websocket.handle_handshake() > 0 then
			return 1
		end
		return 1
	end
	if url == "/status" then
		KSR.xhttp.xhttp_reply(200, "OK", "application/json", '{"status":"up","event":"' .. evname .. '"}')
		return 1
	end
	if KSR.xhttp_prom.check_uri() > 0 then
		KSR.xhttp_prom.counter_inc_l1("scrapes", 1, url)
		KSR.xhttp_prom.histogram_observe_l0("scrape_gap", "2.5")
		KSR.xhttp_prom.dispatch()
		return 1
	end
	if url == "/RPC" and KSR.jsonrpcs ~= nil and KSR.jsonrpcs.dispatch ~= nil then
		KSR.jsonrpcs.dispatch()
		return 1
	end
	KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "no such page\n")
	return 1
end

function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		return
	end
	if KSR.nathelper.nat_uac_test(64) > 0 then
		KSR.force_rport()
		if KSR.is_REGISTER() then
			KSR.nathelper.fix_nated_register()
		elseif KSR.siputils.has_totag() < 0 or not KSR.is_ACK() then
			KSR.nathelper.add_contact_alias()
		end
	end
	if not KSR.is_REGISTER() then KSR.tm.t_on_reply("ksr_ws_reply") end
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then
			if KSR.pv.is_null("$du") then
				KSR.nathelper.handle_ruri_alias()
			end
			KSR.tm.t_relay()
			return
		end
		if KSR.is_ACK() then
			if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
			return
		end
		KSR.sl.sl_send_reply(404, "Not here")
		return
	end
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
		return
	end
	if KSR.is_REGISTER() then
		KSR.registrar.save("location", 0)
		return
	end
	KSR.hdr.remove("Route")
	if KSR.is_INVITE() then KSR.rr.record_route() end
	if KSR.kx.gete_ruser() == "uas" then
		KSR.setdsturi("sip:127.0.0.1:" .. UAS1)
	elseif KSR.registrar.lookup("location") < 0 then
		KSR.sl.sl_send_reply(404, "Not Found")
		return
	end
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_websocket_event(evname)
	KSR.info("event " .. evname .. " conid " .. KSR.pv.get("$ws_conid") .. " from " .. KSR.pv.get("$si") .. "\n")
end

function ksr_ws_reply()
	if KSR.nathelper.nat_uac_test(64) > 0 then
		KSR.nathelper.add_contact_alias()
	end
end
