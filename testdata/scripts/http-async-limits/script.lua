-- http_async_client's limits: body size and requests in flight.
function ksr_request_route()
	if KSR.tm.t_newtran() <= 0 then
		KSR.x.exit()
	end
	if KSR.http_async_client.query("http://{http}/" .. KSR.pv.gete("$rU"), "ksr_http_answer") < 0 then
		KSR.tm.t_reply(500, "Query failed")
	end
	KSR.x.exit()
end

function ksr_http_answer()
	if KSR.pv.get("$http_ok") ~= 1 then
		KSR.info("answer ok=0: " .. KSR.pv.gete("$http_err"))
		KSR.tm.t_reply(503, "Routing service down")
		return
	end
	KSR.setdsturi(KSR.pv.gete("$http_rb"))
	KSR.tm.t_relay()
end
