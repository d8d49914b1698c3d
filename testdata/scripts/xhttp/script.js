// xhttp, websocket and jsonrpcs over HTTP: see scenario.yaml.
function ksr_request_route() {
	KSR.info("sip " + KSR.pv.get("$rm") + " over " + KSR.pv.get("$pr") + "\n");
	if (KSR.is_WSS()) {
		KSR.sl.sl_send_reply(200, "Keepalive " + KSR.pv.get("$pr"));
		return;
	}
	KSR.sl.sl_send_reply(403, "Not over " + KSR.pv.get("$pr"));
}

function ksr_xhttp_event(evname) {
	var url = KSR.pv.get("$hu");
	KSR.info("http " + evname + " " + KSR.pv.get("$rm") + " " + url + "\n");
	if (KSR.hdr.is_present("Upgrade") > 0) {
		KSR.info("handshake " + KSR.websocket.handle_handshake() + "\n");
		return 1;
	}
	if (url == "/status") {
		KSR.hdr.append_to_reply("Cache-Control: no-store\r\n");
		KSR.xhttp.xhttp_reply(200, "OK", "application/json",
			'{"status":"up","ua":"' + KSR.pv.get("$hdr(User-Agent)") + '"}');
		return 1;
	}
	if (url == "/echo") {
		KSR.xhttp.xhttp_reply(200, "OK", KSR.pv.get("$hdr(Content-Type)"), KSR.pv.get("$rb"));
		return 1;
	}
	if (url == "/RPC") {
		KSR.jsonrpcs.dispatch();
		return 1;
	}
	if (url == "/exec") {
		KSR.jsonrpcs.exec('{"jsonrpc":"2.0","method":"no.such","id":1}');
		KSR.xhttp.xhttp_reply(200, "OK", "text/plain",
			"code " + KSR.pv.get("$jsonrpl(code)") + " text " + KSR.pv.get("$jsonrpl(text)"));
		return 1;
	}
	KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "no page " + url + "\n");
	return 1;
}
