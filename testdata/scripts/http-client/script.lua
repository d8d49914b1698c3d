-- http_client: route by asking an HTTP server; -1 is the error branch.
function ksr_request_route()
	local u = KSR.pv.gete("$rU")
	KSR.pv.sets("$var(r)", "")
	local rc
	if u == "route" then
		rc = KSR.http_client.query("http://{http}/route", "$var(r)")
	elseif u == "post" then
		rc = KSR.http_client.query_post_hdrs("http://{http}/post", '{"u":"alice"}', "Content-Type: application/json\r\nX-Token: abc", "$var(r)")
	elseif u == "notfound" then
		rc = KSR.http_client.get_hdrs("http://{http}/notfound", "", "", "$var(r)")
	elseif u == "con" then
		rc = KSR.http_client.curl_connect("svc", "/route", "$var(r)")
	elseif u == "huge" then
		rc = KSR.http_client.query("http://{http}/huge", "$var(r)")
	elseif u == "down" then
		rc = KSR.http_client.query("http://{httpdown}/route", "$var(r)")
	else
		rc = KSR.http_client.query("http://{http}/route?q=" .. KSR.hdr.get("X-Q"), "$var(r)")
	end
	if rc < 0 then
		KSR.sl.sl_send_reply(503, "HTTP failed rc=" .. rc)
		return
	end
	KSR.sl.sl_send_reply(200, "rc=" .. rc .. " r=" .. KSR.pv.gete("$var(r)"))
end
