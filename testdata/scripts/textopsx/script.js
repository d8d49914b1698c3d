// textopsx: edits become visible after msg_apply_changes; fnmatch;
// keep_hf_re; remove_body; change_reply_status in the reply route.
function ksr_request_route() {
	KSR.hdr.append("X-Added: yes\r\n");
	var r = "before=" + KSR.textops.is_present_hf("X-Added");
	r += " apply=" + KSR.textopsx.msg_apply_changes();
	r += " after=" + KSR.textops.is_present_hf("X-Added");
	r += " fn=" + KSR.textopsx.fnmatch(KSR.pv.get("$rU"), "123*");
	r += " fn2=" + KSR.textopsx.fnmatch(KSR.pv.get("$rU"), "9*");
	r += " fni=" + KSR.textopsx.fnmatch_ex(KSR.pv.get("$fd"), "*.EXAMPLE.com", "i");
	r += " fncase=" + KSR.textopsx.fnmatch(KSR.pv.get("$fd"), "*.EXAMPLE.com");
	r += " keep=" + KSR.textopsx.keep_hf_re("^X-Keep");
	r += " rb=" + KSR.textopsx.remove_body();
	r += " apply2=" + KSR.textopsx.msg_apply_changes();
	r += " drop=" + KSR.textops.is_present_hf("X-Drop");
	r += " ua=" + KSR.textops.is_present_hf("User-Agent");
	r += " kept=" + KSR.textops.is_present_hf("X-Keep-1");
	r += " added=" + KSR.textops.is_present_hf("X-Added");
	r += " bs=" + KSR.pv.get("$bs");
	KSR.sl.sl_send_reply(200, r);
}

function ksr_reply_route() {
	var crs = KSR.textopsx.change_reply_status(404, "Not Found");
	var apply = KSR.textopsx.msg_apply_changes();
	KSR.info("crs=" + crs + " apply=" + apply + " status=" + KSR.pv.get("$rs") + " " + KSR.pv.get("$rr") + "\n");
}
