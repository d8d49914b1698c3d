function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.send_reply(483, "Too Many Hops")
		return
	end
	KSR.sl.sl_send_reply(200, "OK")
end

function ksr_reply_route()
	KSR.info("reply route ran")
end
