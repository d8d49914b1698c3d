-- The seed's example, written against KSR only.

-- SIP request routing
function ksr_request_route()
	KSR.dbg("===== request - from kamailio lua script\n")
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.send_reply(483, "Too Many Hops")
		return
	end
	KSR.sl.sl_send_reply(200, "OK Lua")
end

-- SIP response routing
function ksr_reply_route()
	KSR.dbg("===== response - from kamailio lua script\n")
end
