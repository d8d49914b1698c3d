-- Registrar behind an edge proxy: save stores the Path with the binding
-- (use_path), lookup routes the call back through it.
function ksr_request_route()
	if KSR.is_REGISTER() then
		KSR.registrar.save("location", 0)
		return
	end
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then
			KSR.tm.t_relay()
		end
		return
	end
	KSR.rr.record_route()
	if KSR.registrar.lookup("location") < 0 then
		KSR.sl.sl_send_reply(404, "Not Found")
		return
	end
	KSR.info("lookup: ru=" .. KSR.pv.gete("$ru") .. " du=" .. KSR.pv.gete("$du") .. "\n")
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
end
