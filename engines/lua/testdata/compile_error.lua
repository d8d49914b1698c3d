function ksr_request_route()
	goto nowhere
end
