function ksr_request_route() {
	if (
}
