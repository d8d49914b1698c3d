// Routing by asking an HTTP service: see route.lua.
function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		KSR.sl.sl_send_reply(200, "Alive");
		return;
	}
	if (KSR.tm.t_newtran() <= 0) {
		// a retransmission (absorbed) or an error: never a second query
		KSR.x.exit();
	}
	var url = "http://{HTTP}/" + KSR.pv.gete("$rU");
	if (KSR.pv.gete("$rU") == "down") {
		url = "http://{DOWN}/route";
	}
	if (KSR.http_async_client.query(url, "ksr_http_answer") < 0) {
		KSR.tm.t_reply(500, "Query failed");
	}
	KSR.x.exit();
}

function ksr_http_answer() {
	if (KSR.pv.get("$http_ok") != 1) {
		KSR.err("routing service: " + KSR.pv.gete("$http_err") + "\n");
		KSR.tm.t_reply(503, "Routing service down");
		return;
	}
	KSR.tm.t_reply(480, "Routed to " + KSR.pv.gete("$http_rb"));
}
