function ksr_request_route() {
	if (KSR.is_method("OPTIONS")) {
		KSR.sl.sl_send_reply(200, "OK\r\nX-Injected: yes");
	} else if (KSR.is_method("INFO")) {
		KSR.hdr.append_to_reply("X-Fine: 1\r\nX-Injected: yes\r\n");
	} else if (KSR.is_method("MESSAGE")) {
		KSR.setdsturi("sip:127.0.0.1:5070\r\nX-Injected: yes");
	} else if (KSR.is_method("SUBSCRIBE")) {
		KSR.pv.sets("$ru", "sip:bob@127.0.0.1\r\nX-Injected: yes");
	} else {
		KSR.hdr.append_to_reply("X-Fine: 1\r\n");
		KSR.sl.sl_send_reply(200, "Fine");
		return;
	}
	KSR.sl.sl_send_reply(500, "not reached");
}
