-- The seed's 2016 example, with the legacy sr object.
-- SIP request routing
function ksr_request_route()
	sr.log("info", "===== request - from kamailio lua script\n");
	if sr.maxfwd.process_maxfwd(10) < 0 then
		sr.sl.send_reply(483, "Too Many Hops");
		return;
	end
	sr.sl.sl_send_reply(200, "OK Lua");
end

-- SIP response routing
function ksr_reply_route()
	sr.log("info", "===== response - from kamailio lua script\n");
end
