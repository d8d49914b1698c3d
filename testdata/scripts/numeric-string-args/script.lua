function ksr_request_route()
	KSR.sl.sl_send_reply("202", "numeric string")
end
