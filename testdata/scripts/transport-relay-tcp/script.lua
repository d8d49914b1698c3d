-- Issue 13: a UDP INVITE relayed over TCP, with double Record-Route.
function ksr_request_route()
	if KSR.is_INVITE() then KSR.rr.record_route() end
	KSR.setdsturi("sip:127.0.0.1:5070;transport=tcp")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
