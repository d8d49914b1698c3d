-- Calls with dialog and acc: see kemi-lua.cfg.
function ksr_request_route()
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() < 0 then
			-- An ACK of a failure is the transaction's (tm absorbs it);
			-- anything else without our Route is not ours.
			if KSR.pv.get("$rm") == "ACK" then
				if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
				return
			end
			KSR.sl.sl_send_reply(404, "Not here")
			return
		end
		if KSR.pv.get("$rm") == "BYE" then
			KSR.setflag(1)
		end
		KSR.dialog.dlg_manage()
		KSR.tm.t_relay()
		return
	end
	if KSR.pv.get("$rm") == "CANCEL" then
		KSR.tm.t_relay()
		return
	end
	if KSR.pv.get("$rm") ~= "INVITE" then
		KSR.sl.sl_send_reply(405, "Method Not Allowed")
		return
	end
	KSR.dialog.dlg_manage()
	local user = KSR.pv.get("$fU")
	KSR.dialog.set_dlg_profile("caller", user)
	KSR.dialog.get_profile_size("caller", user, "$var(n)")
	if KSR.pv.get("$var(n)") > 2 then
		KSR.sl.sl_send_reply(486, "Busy Here")
		return
	end
	KSR.dialog.var_sets("caller", user)
	if KSR.pv.get("$rU") == "short" then
		KSR.dialog.dlg_set_timeout(3)
	end
	KSR.setflag(1)
	KSR.setflag(2)
	KSR.setflag(3)
	KSR.rr.record_route()
	KSR.pv.sets("$du", KSR.pv.get("$hdr(X-Dst)"))
	KSR.tm.t_relay()
end
