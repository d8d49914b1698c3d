-- A stateful record-routing proxy for the end-to-end tests. UAS1 and UAS2
-- (the callees' ports) are defined by a line the test puts before this
-- file. The Request-URI user picks what happens:
--   call, retrans: to UAS1
--   tcpcall: to UAS1 over TCP ($du with transport=tcp)
--   busy: to UAS1; when it answers 486 the failure route tries UAS2
--   silent: to UAS1 with fr_inv_timer 2 s; the failure route answers 408
--   unknown: to a .invalid host name, which never resolves: t_relay fails
function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		return
	end
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then
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
	KSR.hdr.remove("Route")
	if KSR.is_INVITE() then KSR.rr.record_route() end
	local user = KSR.kx.gete_ruser()
	if user == "unknown" then
		KSR.setdsturi("sip:callee.invalid:5060")
	elseif user == "tcpcall" then
		KSR.setdsturi("sip:127.0.0.1:" .. UAS1 .. ";transport=tcp")
	else
		KSR.setdsturi("sip:127.0.0.1:" .. UAS1)
	end
	if user == "busy" or user == "silent" then KSR.tm.t_on_failure("ksr_failure_route") end
	if user == "silent" then KSR.tm.t_set_fr(2000, 1000) end
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_failure_route()
	KSR.info("failure route: status " .. KSR.tm.t_get_status_code() .. "\n")
	if KSR.tm.t_is_canceled() > 0 then return end
	if KSR.tm.t_branch_timeout() > 0 then
		KSR.tm.t_reply(408, "Failure Route Timeout")
		return
	end
	if KSR.tm.t_check_status("486") > 0 then
		KSR.setdsturi("sip:127.0.0.1:" .. UAS2)
		KSR.tm.t_relay()
	end
end
