-- The seed's example, with the legacy `sr` object of Kamailio's app_lua.

-- SIP request routing
function ksr_request_route()
	sr.log("dbg", "===== request - from kamailio lua script\n")
	if sr.maxfwd.process_maxfwd(10) < 0 then
		sr.sl.send_reply(483, "Too Many Hops")
		return
	end
	sr.sl.send_reply(200, "OK Lua")
end

-- SIP response routing
function ksr_reply_route()
	sr.log("dbg", "===== response - from kamailio lua script\n")
end
