// http_client: route by asking an HTTP server; -1 is the error branch.
function ksr_request_route() {
	var u = KSR.pv.gete("$rU");
	KSR.pv.sets("$var(r)", "");
	var rc;
	if (u == "route") {
		rc = KSR.http_client.query("http://{http}/route", "$var(r)");
	} else if (u == "post") {
		rc = KSR.http_client.query_post_hdrs("http://{http}/post", '{"u":"alice"}', "Content-Type: application/json\r\nX-Token: abc", "$var(r)");
	} else if (u == "notfound") {
		rc = KSR.http_client.get_hdrs("http://{http}/notfound", "", "", "$var(r)");
	} else if (u == "con") {
		rc = KSR.http_client.curl_connect("svc", "/route", "$var(r)");
	} else if (u == "huge") {
		rc = KSR.http_client.query("http://{http}/huge", "$var(r)");
	} else if (u == "down") {
		rc = KSR.http_client.query("http://{httpdown}/route", "$var(r)");
	} else {
		rc = KSR.http_client.query("http://{http}/route?q=" + KSR.hdr.get("X-Q"), "$var(r)");
	}
	if (rc < 0) {
		KSR.sl.sl_send_reply(503, "HTTP failed rc=" + rc);
		return;
	}
	KSR.sl.sl_send_reply(200, "rc=" + rc + " r=" + KSR.pv.gete("$var(r)"));
}
