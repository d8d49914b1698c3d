-- pcre_match_group on groups from groups.txt; pcre_match on an expression
-- the request carries in X-Re.
function ksr_request_route()
	if KSR.regex.pcre_match_group(KSR.pv.get("$ua"), 1) > 0 then
		KSR.sl.sl_send_reply(403, "scanner")
		return
	end
	local re = KSR.regex.pcre_match(KSR.pv.get("$ua"), KSR.pv.get("$hdr(X-Re)"))
	if KSR.regex.pcre_match_group(KSR.pv.get("$rU"), 0) > 0 then
		KSR.sl.sl_send_reply(403, "premium re=" .. re ..
			" bad=" .. KSR.regex.pcre_match_group(KSR.pv.get("$rU"), 1))
		return
	end
	KSR.sl.sl_send_reply(404, "re=" .. re .. " nogroup=" .. KSR.regex.pcre_match_group("x", 7))
end
