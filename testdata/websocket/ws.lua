-- SIP over WebSocket (RFC 7118): a registrar and record-routing proxy for
-- browser phones (JsSIP, SIP.js) in Kamailio's KEMI style. The same script
-- runs in Kamailio (kamailio.cfg: app_lua, xhttp, websocket) and in kemi
-- (kemi.cfg); test/browser drives it with JsSIP in headless Chromium and
-- testdata/bench/wsload with REGISTERs over WSS.
--
-- Browser phones put an unresolvable host (xxx.invalid) in Contact: the
-- registrar stores the connection the REGISTER came on (fix_nated_register)
-- and dialogs carry it in an alias parameter (add_contact_alias), so every
-- request goes back on the client's own WebSocket connection.

-- HTTP on the SIP ports: a WebSocket upgrade is handed to the websocket
-- module, anything else gets 404.
function ksr_xhttp_event(evname)
	-- As Kamailio's websocket README: an HTTP answer closes its
	-- connection (the handshake's 101 keeps it), and nothing is opened.
	KSR.set_reply_close()
	KSR.set_reply_no_connect()
	local upgrade = string.lower(KSR.pv.gete("$hdr(Upgrade)"))
	local conn = string.lower(KSR.pv.gete("$hdr(Connection)"))
	if upgrade == "websocket" and string.find(conn, "upgrade", 1, true)
			and KSR.pv.gete("$rm") == "GET" then
		-- It answers 101, or an error of its own (no SIP sub-protocol, ...).
		KSR.websocket.handle_handshake()
		return 1
	end
	KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "not found\n")
	return 1
end

function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		return 1
	end
	-- 64: the request came over WebSocket.
	if KSR.nathelper.nat_uac_test(64) > 0 then
		KSR.force_rport()
		if KSR.is_REGISTER() then
			KSR.nathelper.fix_nated_register()
		elseif KSR.nathelper.add_contact_alias() < 0 then
			KSR.sl.sl_send_reply(400, "Bad Contact")
			return 1
		end
	end
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		return 1
	end
	if KSR.siputils.has_totag() > 0 then
		ksr_route_withindlg()
		return 1
	end
	if KSR.is_REGISTER() then
		ksr_route_register()
		return 1
	end
	if KSR.is_ACK() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		return 1
	end
	-- INVITE, MESSAGE, ...: to the callee's registered connection.
	KSR.rr.record_route()
	if KSR.registrar.lookup("location") < 0 then
		KSR.sl.sl_send_reply(404, "Not Found")
		return 1
	end
	ksr_route_relay()
end

function ksr_route_withindlg()
	if KSR.rr.loose_route() > 0 then
		-- The alias in the request URI names the client's connection.
		if KSR.pv.is_null("$du") then
			KSR.nathelper.handle_ruri_alias()
		end
		ksr_route_relay()
		return
	end
	if KSR.is_ACK() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		return
	end
	KSR.sl.sl_send_reply(404, "Not Here")
end

-- Digest authentication when the auth modules are loaded (the bench runs
-- with and without), then the binding on the client's connection.
function ksr_route_register()
	if KSR.auth_db ~= nil then
		if KSR.auth_db.auth_check(KSR.pv.get("$fd"), "subscriber", 1) < 0 then
			KSR.auth.auth_challenge(KSR.pv.get("$fd"), 0)
			return
		end
		KSR.auth.consume_credentials()
	end
	KSR.registrar.save("location", 0)
end

function ksr_route_relay()
	if KSR.is_INVITE() or KSR.is_MESSAGE() or KSR.is_BYE() then
		KSR.tm.t_on_reply("ksr_onreply_manage")
	end
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
end

-- The callee's Contact in a reply gets its connection's alias too.
function ksr_onreply_manage()
	if KSR.nathelper.nat_uac_test(64) > 0 then
		KSR.nathelper.add_contact_alias()
	end
end
