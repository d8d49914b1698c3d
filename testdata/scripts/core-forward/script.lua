-- Stateless forwarding: forward() to the Request-URI, forward_uri() to a
-- given next hop; a request for this server itself is refused (a loop).
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.info("forward_uri rc " .. KSR.forward_uri("sip:127.0.0.1:5072"))
		return
	end
	local rc = KSR.forward()
	KSR.info("forward rc " .. rc)
	if rc < 0 then KSR.sl.sl_send_reply(500, "Not Forwarded") end
end
