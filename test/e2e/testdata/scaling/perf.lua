-- REGISTER with digest authentication (one password for every user),
-- saved into usrloc; the routing of perf.cfg.
function ksr_request_route()
	if KSR.is_REGISTER() then
		if KSR.auth.pv_auth_check("127.0.0.1", "secret", 0, 0) < 0 then
			KSR.auth.auth_challenge("127.0.0.1", 1)
			return
		end
		KSR.auth.consume_credentials()
		KSR.registrar.save("location", 0)
		return
	end
	KSR.sl.sl_send_reply(501, "Not Implemented")
end
