// Assigning to KSR's members fails that message; the next message still
// finds the real functions.
function ksr_request_route() {
	if (KSR.is_OPTIONS()) {
		KSR.sl = null;
		KSR.info("assigned");
	}
	KSR.sl.sl_send_reply(200, "still serving");
}
