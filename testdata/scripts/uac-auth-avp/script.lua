-- uac_auth with the credentials in AVPs (auth_*_avp): an empty realm
-- matches the one the next hop asks for; the second round gives the
-- password as HA1 (uac_auth_mode(1)).
function ksr_request_route()
	KSR.tm.t_on_failure("ksr_failure")
	KSR.tm.t_relay()
end

function ksr_failure()
	KSR.pv.sets("$avp(auser)", "bob")
	KSR.pv.sets("$avp(arealm)", "")
	local rc
	if KSR.tm.t_get_branch_index() == 0 then
		KSR.pv.sets("$avp(apass)", "pw")
		rc = KSR.uac.uac_auth()
	else
		KSR.pv.sets("$avp(apass)", "568194d68f4ddfc74d5d7304c9f3f06a")
		rc = KSR.uac.uac_auth_mode(1)
	end
	KSR.tm.t_on_failure("ksr_failure")
	if rc > 0 then KSR.tm.t_relay() end
	KSR.info("rc " .. rc .. " sent with " .. KSR.hdr.gete("Authorization"))
end
