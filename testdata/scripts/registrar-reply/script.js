// registrar's reg_send_reply and add_sock_hdr.
function ksr_request_route() {
	if (!KSR.is_myself_ruri()) {
		// For a registrar behind this one: the socket the REGISTER came in on.
		KSR.info("bad name rc " + KSR.registrar.add_sock_hdr("Sock Info"));
		KSR.info("sock rc " + KSR.registrar.add_sock_hdr("Sock-Info"));
		KSR.tm.t_relay();
		KSR.x.exit();
	}
	// Save without replying, add a header, then send save's reply.
	KSR.info("save rc " + KSR.registrar.save("location", 2));
	KSR.hdr.append_to_reply("P-Registered: deferred\r\n");
	KSR.info("reply rc " + KSR.registrar.reg_send_reply());
	KSR.info("again rc " + KSR.registrar.reg_send_reply());
}
