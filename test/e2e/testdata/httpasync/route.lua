-- Routing by asking an HTTP service (issue 14): INVITEs wait for the
-- service with their transaction suspended; OPTIONS are answered at once
-- and must not wait behind them.
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.sl.sl_send_reply(200, "Alive")
		return
	end
	if KSR.tm.t_newtran() <= 0 then
		-- a retransmission (absorbed) or an error: never a second query
		KSR.x.exit()
	end
	local url = "http://{HTTP}/" .. KSR.pv.gete("$rU")
	if KSR.pv.gete("$rU") == "down" then
		url = "http://{DOWN}/route"
	end
	if KSR.http_async_client.query(url, "ksr_http_answer") < 0 then
		KSR.tm.t_reply(500, "Query failed")
	end
	KSR.x.exit()
end

function ksr_http_answer()
	if KSR.pv.get("$http_ok") ~= 1 then
		KSR.err("routing service: " .. KSR.pv.gete("$http_err") .. "\n")
		KSR.tm.t_reply(503, "Routing service down")
		return
	end
	KSR.tm.t_reply(480, "Routed to " .. KSR.pv.gete("$http_rb"))
end
