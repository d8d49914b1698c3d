function ksr_request_route() {
	KSR.info("fine");
}

function broken() {
	if (
}
