-- Edge proxy in front of the registrar (RFC 3327): REGISTERs get a Path
-- with this proxy's address and the client's source (received) and go
-- on to the registrar; requests the registrar sends back for a user come
-- with that Path entry as Route, which loose_route takes (use_received
-- sends them to the received address).
function ksr_request_route()
	if KSR.is_REGISTER() then
		if KSR.path.add_path_received() < 0 then
			KSR.sl.sl_send_reply(503, "Internal Path Error")
			return
		end
		KSR.setdsturi("sip:{REGISTRAR}")
		KSR.tm.t_relay()
		return
	end
	KSR.rr.loose_route()
	if KSR.siputils.has_totag() < 0 then
		KSR.rr.record_route()
	end
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
end
