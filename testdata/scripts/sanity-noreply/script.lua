-- Sanity in noreply mode: the script decides when to answer.
function ksr_request_route()
	if KSR.sanity.sanity_check_defaults() < 0 then
		KSR.info("sanity failed, replying\n")
		KSR.sanity.sanity_reply()
		KSR.x.exit()
	end
	KSR.sl.sl_send_reply(200, "fine")
end
