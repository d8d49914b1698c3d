-- Sanity first (it answers broken requests itself), then a scanner check,
-- then a reply that tells what the script read from the message.
function ksr_request_route()
	if KSR.sanity.sanity_check_defaults() < 0 then
		KSR.x.exit()
	end
	if KSR.textops.search("^User-Agent: .*scanner") > 0 then
		KSR.sl.sl_send_reply(403, "Forbidden")
		return
	end
	KSR.pv.seti("$var(n)", KSR.pv.geti("$hdr(X-Test)") + 1)
	KSR.textops.subst_user("/^0/+49/")
	if KSR.textops.has_body_type("text/plain") > 0 then
		KSR.info("text body: " .. KSR.kx.get_body() .. "\n")
	end
	KSR.sl.sl_send_reply(200, "fU=" .. KSR.kx.gete_fuser() ..
		" n=" .. KSR.pv.geti("$var(n)") ..
		" sp=" .. KSR.kx.get_srcport() ..
		" ru=" .. KSR.kx.get_ruri() ..
		" body=" .. KSR.textops.has_body() ..
		" ruser=" .. KSR.corex.has_ruri_user() ..
		" sub=" .. KSR.hdr.gete("Subject") ..
		" ua=" .. KSR.textops.is_present_hf("User-Agent"))
end
