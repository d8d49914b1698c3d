-- kemi's registrar, in Lua: the same routing as Kamailio's basic KEMI
-- example, written for kemi. It
--   * guards the door: banned addresses and floods (pike + the ipban
--     htable), SIP scanners, exhausted Max-Forwards, malformed requests;
--   * answers keepalive OPTIONS sent to the server itself;
--   * lets tm absorb CANCELs and retransmissions;
--   * sends in-dialog requests along their Route set;
--   * authenticates REGISTERs and calls from local users (auth_db);
--   * stores bindings (registrar.save) and routes calls to them (lookup).
-- With auth and auth_db not loaded it runs without authentication.

local FL_NATTED = 5   -- per request: the sender is behind NAT
local BF_NATTED = 6   -- per branch: the callee is behind NAT

local SCANNERS = { "friendly", "scanner", "sipcli", "sipvicious" }

-- relay sends the request on statefully and ends the script. Branch,
-- reply and failure routes are armed only for the methods that use them.
local function relay()
	if KSR.is_method_in("IBSU") and KSR.tm.t_is_set("branch_route") < 0 then
		KSR.tm.t_on_branch("kemi_branch")
	end
	if KSR.is_method_in("ISU") and KSR.tm.t_is_set("onreply_route") < 0 then
		KSR.tm.t_on_reply("kemi_reply")
	end
	if KSR.is_INVITE() and KSR.tm.t_is_set("failure_route") < 0 then
		KSR.tm.t_on_failure("kemi_failure")
	end
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
	KSR.x.exit()
end

local function from_scanner()
	local ua = KSR.kx.gete_ua()
	for _, word in ipairs(SCANNERS) do
		if string.find(ua, word, 1, true) then
			return true
		end
	end
	return false
end

-- guard turns away what should not be routed at all.
local function guard()
	KSR.set_reply_no_connect()
	KSR.force_rport()
	-- Our own addresses are never counted or banned.
	if not KSR.is_myself_srcip() then
		local ip = KSR.kx.get_srcip()
		if KSR.htable.sht_match_name("ipban", "eq", ip) > 0 then
			KSR.x.exit() -- banned: no answer at all
		end
		if KSR.pike.pike_check_req() < 0 then
			KSR.err("pike blocking " .. KSR.kx.get_method() .. " from " .. ip ..
				":" .. KSR.kx.get_srcport() .. "\n")
			KSR.htable.sht_seti("ipban", ip, 1)
			KSR.x.exit()
		end
	end
	-- Scanners get a plain 200 so they move on, and nothing more.
	if from_scanner() then
		KSR.sl.sl_send_reply(200, "OK")
		KSR.x.exit()
	end
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		KSR.x.exit()
	end
	if KSR.is_OPTIONS() and KSR.is_myself_ruri() and KSR.corex.has_ruri_user() < 0 then
		KSR.sl.sl_send_reply(200, "Keepalive")
		KSR.x.exit()
	end
	-- 17895: R-URI version and scheme, required headers, CSeq method and
	-- number, Content-Length, Expires, URIs, top Via; 7: R-URI, From, To.
	if KSR.sanity.sanity_check(17895, 7) < 0 then
		KSR.err("malformed request from " .. KSR.kx.get_srcip() .. ":" .. KSR.kx.get_srcport() .. "\n")
		KSR.x.exit()
	end
end

-- nat marks senders behind NAT and points their Contact at the address
-- the request really came from.
local function nat()
	if not KSR.nathelper then
		return
	end
	if KSR.nathelper.nat_uac_test(19) > 0 then
		if KSR.is_REGISTER() then
			KSR.nathelper.fix_nated_register()
		elseif KSR.siputils.is_first_hop() > 0 then
			KSR.nathelper.set_contact_alias()
		end
		KSR.setflag(FL_NATTED)
	end
end

-- in_dialog routes requests that carry a To tag, then ends the script.
local function in_dialog()
	if KSR.siputils.has_totag() < 0 then
		return
	end
	if KSR.rr.loose_route() > 0 then
		if KSR.nathelper and not KSR.isdsturiset() then
			KSR.nathelper.handle_ruri_alias()
		end
		if KSR.is_NOTIFY() then
			KSR.rr.record_route() -- RFC 6665: in-dialog NOTIFY record-routes
		end
		relay()
	end
	if KSR.is_ACK() then
		-- An ACK to a negative final answer belongs to a transaction;
		-- any other ACK without a route has nowhere to go.
		if KSR.tm.t_check_trans() > 0 then
			relay()
		end
		KSR.x.exit()
	end
	KSR.sl.sl_send_reply(404, "Not here")
	KSR.x.exit()
end

-- authenticate checks who is calling or registering.
local function authenticate()
	if not KSR.auth then
		return
	end
	local local_caller = KSR.is_myself_furi()
	if KSR.is_REGISTER() or local_caller then
		local realm = KSR.kx.gete_fhost()
		if KSR.auth_db.auth_check(realm, "subscriber", 1) < 0 then
			KSR.auth.auth_challenge(realm, 0)
			KSR.x.exit()
		end
		-- The credentials are for us, not for the next hop.
		if not KSR.is_method_in("RP") then
			KSR.auth.consume_credentials()
		end
	end
	-- Not an open relay: someone else's user may only call ours.
	if not local_caller and not KSR.is_myself_ruri() then
		KSR.sl.sl_send_reply(403, "Not relaying")
		KSR.x.exit()
	end
end

local function register()
	if KSR.isflagset(FL_NATTED) then
		KSR.setbflag(BF_NATTED)
	end
	-- save answers the REGISTER itself, errors included (400, 500, 503):
	-- a second reply here would answer it twice.
	KSR.registrar.save("location", 0)
	KSR.x.exit()
end

-- locate turns the called user into the contacts it registered.
local function locate()
	local rc = KSR.registrar.lookup("location")
	if rc == -2 then
		KSR.tm.t_newtran()
		KSR.sl.send_reply(405, "Method Not Allowed")
		KSR.x.exit()
	elseif rc < 0 then
		KSR.tm.t_newtran()
		KSR.sl.send_reply(404, "Not Found")
		KSR.x.exit()
	end
	relay()
end

function ksr_request_route()
	guard()
	nat()

	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then
			relay()
		end
		return
	end
	if not KSR.is_ACK() then
		-- A retransmission of a request tm is already handling: tm
		-- resends its last answer, the script does nothing.
		if KSR.tmx.t_precheck_trans() > 0 then
			KSR.tm.t_check_trans()
			return
		end
		if KSR.tm.t_check_trans() == 0 then
			return
		end
	end

	in_dialog()
	authenticate()

	KSR.hdr.remove("Route") -- a new dialog starts here: drop preloaded routes
	if KSR.is_method_in("IS") then
		KSR.rr.record_route()
	end

	if not KSR.is_myself_ruri() then
		-- Another domain's user: send it on.
		KSR.hdr.append("P-Hint: outbound\r\n")
		relay()
	end
	if KSR.is_REGISTER() then
		register()
	end
	if KSR.corex.has_ruri_user() < 0 then
		KSR.sl.sl_send_reply(484, "Address Incomplete")
		return
	end
	locate()
end

function kemi_branch()
	KSR.dbg("branch " .. KSR.pv.get("$T_branch_idx") .. " to " .. KSR.kx.get_ruri() .. "\n")
end

function kemi_reply()
	KSR.dbg("reply " .. KSR.kx.get_status() .. "\n")
end

function kemi_failure()
	if KSR.tm.t_is_canceled() > 0 then
		return
	end
end

function ksr_reply_route()
	-- 17604: required headers, CSeq number, Content-Length, URIs, top
	-- Via; 6: From and To URIs.
	if KSR.sanity.sanity_check(17604, 6) < 0 then
		KSR.err("malformed reply from " .. KSR.kx.get_srcip() .. ":" .. KSR.kx.get_srcport() .. "\n")
		KSR.x.drop()
	end
end
