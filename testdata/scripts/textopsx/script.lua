-- textopsx: edits become visible after msg_apply_changes; fnmatch;
-- keep_hf_re; remove_body; change_reply_status in the reply route.
function ksr_request_route()
	KSR.hdr.append("X-Added: yes\r\n")
	local r = "before=" .. KSR.textops.is_present_hf("X-Added")
	r = r .. " apply=" .. KSR.textopsx.msg_apply_changes()
	r = r .. " after=" .. KSR.textops.is_present_hf("X-Added")
	r = r .. " fn=" .. KSR.textopsx.fnmatch(KSR.pv.get("$rU"), "123*")
	r = r .. " fn2=" .. KSR.textopsx.fnmatch(KSR.pv.get("$rU"), "9*")
	r = r .. " fni=" .. KSR.textopsx.fnmatch_ex(KSR.pv.get("$fd"), "*.EXAMPLE.com", "i")
	r = r .. " fncase=" .. KSR.textopsx.fnmatch(KSR.pv.get("$fd"), "*.EXAMPLE.com")
	r = r .. " keep=" .. KSR.textopsx.keep_hf_re("^X-Keep")
	r = r .. " rb=" .. KSR.textopsx.remove_body()
	r = r .. " apply2=" .. KSR.textopsx.msg_apply_changes()
	r = r .. " drop=" .. KSR.textops.is_present_hf("X-Drop")
	r = r .. " ua=" .. KSR.textops.is_present_hf("User-Agent")
	r = r .. " kept=" .. KSR.textops.is_present_hf("X-Keep-1")
	r = r .. " added=" .. KSR.textops.is_present_hf("X-Added")
	r = r .. " bs=" .. KSR.pv.get("$bs")
	KSR.sl.sl_send_reply(200, r)
end

function ksr_reply_route()
	local crs = KSR.textopsx.change_reply_status(404, "Not Found")
	local apply = KSR.textopsx.msg_apply_changes()
	KSR.info("crs=" .. crs .. " apply=" .. apply .. " status=" .. KSR.pv.get("$rs") .. " " .. KSR.pv.get("$rr") .. "\n")
end
