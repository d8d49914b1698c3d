// Kamailio's transformations through KSR.pv.get: sql.val quoting, hashes,
// base64/hexa, the escape family, string cutting, prefixes, body lines,
// and a transformation whose result would pass the 64 KiB bound (null).
function ksr_request_route() {
	var g = function (n) { return KSR.pv.get(n); };
	KSR.sl.sl_send_reply(200, "sql=" + g("$(hdr(X-Quote){s.unquote}{sql.val})") +
		" null=" + g("$(hdr(X-None){sql.val})") + "," + g("$(hdr(X-None){sql.val.int})") +
		"," + g("$(hdr(X-None){sql.val.str})") + " cs=" + g("$(cs{sql.val})") + " rp=" + g("$(rp{sql.val})") +
		" md5=" + g("$(fU{s.md5})") + " sha=" + g("$(fU{s.sha256}{s.substr,0,16})") +
		" b64=" + g("$(fU{s.encode.base64})") + "," + g("$(fU{s.encode.base64t}{s.decode.base64t})") +
		" hex=" + g("$(fU{s.encode.hexa})") + " user=" + g("$(hdr(X-Name){s.escape.user})") +
		" url=" + g("$(hdr(X-Path){s.urlencode.param})") + " csv=" + g("$(hdr(X-Quote){s.escape.csv})") +
		" num=" + g("$(hdr(X-Phone){s.numeric})") + " pre=" + g("$(rU{s.prefixes,4})") +
		" file=" + g("$(hdr(X-Path){s.rafter,/})") + " dir=" + g("$(hdr(X-Path){s.rbefore,/})") +
		" rep=" + g("$(rU{s.replace,49,0})") + " strip=" + g("$(rU{s.strip,2})") +
		" ct=" + g("$(hdr(Contact){s.unbracket})") + " lines=" + g("$(rb{line.count})") +
		" m=" + g("$(rb{line.sw,m=}{s.select,1, })") + " last=" + g("$(rb{line.at,-1}{s.len})") +
		" saor=" + g("$(fu{uri.saor})") + " in=" + g("$(hdr(From){s.after,>}{param.in,tag})") + " big=" + KSR.pv.getw("$(hdr(X-Long){s.prefixes})"));
}
