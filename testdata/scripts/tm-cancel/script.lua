-- CANCEL: answered with 200, forwarded to the ringing branch; its 487 goes upstream.
function ksr_request_route()
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
		return
	end
	KSR.setdsturi("sip:127.0.0.1:5070")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
