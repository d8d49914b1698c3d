-- The authentication step of kamailio-basic-kemi-lua.lua, replying 403
-- where that script challenges, so that every run sends the same bytes.
function ksr_request_route()
	local realm = KSR.kx.gete_fhost()
	local rc = KSR.auth_db.auth_check(realm, "subscriber", 1)
	KSR.info("auth_check rc " .. rc)
	if rc < 0 then
		if KSR.auth.has_credentials(realm) > 0 then
			KSR.sl.sl_send_reply(403, "Bad Credentials")
		else
			KSR.sl.sl_send_reply(403, "No Credentials")
		end
		KSR.x.exit()
	end
	KSR.auth.consume_credentials()
	KSR.sl.sl_send_reply(200, "OK")
end
