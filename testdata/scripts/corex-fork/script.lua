-- Forking with append_branch, options_reply, and a refusal whose reply
-- carries a header set by hdr.append_to_reply.
function ksr_request_route()
	if KSR.is_OPTIONS() and KSR.corex.has_ruri_user() < 0 then
		KSR.siputils.options_reply()
		return
	end
	if KSR.is_MESSAGE() then
		KSR.pv.seti("$var(n)", 3)
		KSR.pv.seti("$avp(n)", KSR.pv.geti("$var(n)") + 4)
		KSR.hdr.append_to_reply("Retry-After: 60\r\n")
		KSR.sl.sl_send_reply(403, "Not Today " .. KSR.pv.get("$avp(n)"))
		return
	end
	KSR.corex.append_branch_uri("sip:carol@127.0.0.1:5072")
	KSR.tm.t_relay()
end
