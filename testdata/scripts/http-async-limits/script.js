// http_async_client's limits: body size and requests in flight.
function ksr_request_route() {
	if (KSR.tm.t_newtran() <= 0) {
		KSR.x.exit();
	}
	if (KSR.http_async_client.query("http://{http}/" + KSR.pv.gete("$rU"), "ksr_http_answer") < 0) {
		KSR.tm.t_reply(500, "Query failed");
	}
	KSR.x.exit();
}

function ksr_http_answer() {
	if (KSR.pv.get("$http_ok") != 1) {
		KSR.info("answer ok=0: " + KSR.pv.gete("$http_err"));
		KSR.tm.t_reply(503, "Routing service down");
		return;
	}
	KSR.setdsturi(KSR.pv.gete("$http_rb"));
	KSR.tm.t_relay();
}
