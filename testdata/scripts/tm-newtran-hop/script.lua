-- Issue 11: t_newtran + t_reply sends no 100; t_relay after t_newtran does.
function ksr_request_route()
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
		return
	end
	KSR.tm.t_newtran()
	if KSR.pv.get("$rU") == "busy" then
		KSR.tm.t_reply(486, "Busy Here")
		return
	end
	KSR.setdsturi("sip:127.0.0.1:5070")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
