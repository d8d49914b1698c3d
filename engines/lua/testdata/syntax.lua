function ksr_request_route()
	if true then
		KSR.info("unterminated")
end
