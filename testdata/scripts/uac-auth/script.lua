-- uac_auth: the next hop answers 407; the failure route adds the
-- credentials for its realm and relays again.
function ksr_request_route()
	KSR.tm.t_on_failure("ksr_failure")
	KSR.tm.t_relay()
end

function ksr_failure()
	if KSR.tm.t_is_canceled() > 0 then return end
	if KSR.tm.t_check_status("401|407") > 0 then
		local rc = KSR.uac.uac_auth()
		KSR.info("uac_auth rc " .. rc)
		if rc > 0 then KSR.tm.t_relay() end
		KSR.info("sent with " .. KSR.hdr.gete("Proxy-Authorization"))
	end
end
