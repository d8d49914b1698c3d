-- statistics: update_stat, reset_stat and $stat.
function ksr_request_route()
	if KSR.is_method("OPTIONS") then
		KSR.statistics.update_stat("calls", 1)
		KSR.statistics.update_stat("script:active", 2)
		KSR.statistics.update_stat("seen", 5)
		KSR.sl.sl_send_reply(200, "calls=" .. KSR.pv.get("$stat(calls)") .. " active=" .. KSR.pv.get("$stat(script:active)") ..
			" seen=" .. KSR.pv.get("$stat(dynamic:seen)") .. " rcv=" .. KSR.pv.get("$stat(core:rcv_requests)"))
		return
	end
	local r1 = KSR.statistics.reset_stat("calls")
	local r2 = KSR.statistics.reset_stat("active")
	local core = KSR.statistics.update_stat("core:rcv_requests", 1)
	local missing = KSR.statistics.reset_stat("nosuch")
	KSR.statistics.update_stat("seen", -1)
	KSR.sl.sl_send_reply(200, "reset=" .. r1 .. "," .. r2 .. " calls=" .. KSR.pv.get("$stat(calls)") ..
		" active=" .. KSR.pv.get("$stat(active)") .. " core=" .. core .. " missing=" .. missing ..
		" seen=" .. KSR.pv.get("$stat(seen)"))
end
