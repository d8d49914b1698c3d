-- A load balancer (see kemi-lua.cfg). The Request-URI user picks the
-- dispatcher set and algorithm: "hash" set 1 by Call-ID hash, "weight"
-- set 2 by weight, anything else set 1 round robin. A destination that
-- answers 5xx or times out is marked trying and probing, and the call
-- goes to the next one of the set.
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
	local set, alg = 1, 4
	if user == "hash" then
		alg = 0
	elseif user == "weight" then
		set, alg = 2, 9
	end
	if KSR.dispatcher.ds_select_dst(set, alg) < 0 then
		KSR.sl.sl_send_reply(503, "No destination")
		return
	end
	KSR.tm.t_on_failure("ksr_failure_route")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_failure_route()
	if KSR.tm.t_is_canceled() > 0 then return end
	if KSR.tm.t_check_status("5[0-9][0-9]") > 0 or KSR.tm.t_branch_timeout() > 0 then
		KSR.dispatcher.ds_mark_dst_state("tp")
		if KSR.dispatcher.ds_next_dst() > 0 then
			KSR.info("failover to " .. KSR.pv.get("$du") .. "\n")
			KSR.tm.t_on_failure("ksr_failure_route")
			KSR.tm.t_relay()
		end
	end
end

function ksr_dispatcher_event(evname)
	KSR.info("dispatcher event " .. tostring(evname) .. " " .. KSR.pv.get("$du") .. " " .. KSR.pv.get("$dsv(flags)") .. "\n")
end
