-- Only a guarded call into a module the config does not load: a warning.
function ksr_request_route()
	if KSR.htable then
		KSR.htable.sht_seti("t", "k", 1)
	end
	KSR.sl.send_reply(200, "OK")
end
