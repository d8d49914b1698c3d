-- dialog call limit and timeout: see scenario.yaml.
function ksr_request_route()
	if KSR.siputils.has_totag() > 0 then
		KSR.rr.loose_route()
		KSR.dialog.dlg_manage()
		KSR.info("in-dialog " .. KSR.pv.get("$rm") .. " known=" .. KSR.dialog.is_known_dlg() .. "\n")
		KSR.tm.t_relay()
		return
	end
	KSR.dialog.dlg_manage()
	local user = KSR.pv.get("$fU")
	KSR.dialog.set_dlg_profile("caller", user)
	KSR.dialog.get_profile_size("caller", user, "$var(n)")
	KSR.info("calls of " .. user .. ": " .. KSR.pv.get("$var(n)") .. "\n")
	if KSR.pv.get("$var(n)") > 2 then
		KSR.sl.sl_send_reply(486, "Busy Here")
		return
	end
	KSR.dialog.var_sets("caller", user)
	KSR.dialog.dlg_set_timeout(5)
	KSR.rr.record_route()
	KSR.pv.sets("$du", "sip:127.0.0.1:5071")
	KSR.tm.t_relay()
end

function ksr_dialog_event(evname)
	KSR.info("event " .. evname .. " " .. KSR.pv.get("$dlg(callid)") .. " caller=" .. KSR.pv.get("$dlg_var(caller)") .. "\n")
end
