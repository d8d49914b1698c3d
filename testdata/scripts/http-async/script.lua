-- Asking an HTTP service without holding the worker: the transaction is
-- suspended while the query runs and continued in ksr_http_answer.
function ksr_request_route()
	local u = KSR.pv.gete("$rU")
	if u == "notrans" then
		KSR.info("query rc=" .. KSR.http_async_client.query("http://{http}/route", "ksr_http_plain"))
		return
	end
	if u == "suspend" or u == "badlabel" then
		if KSR.tmx.t_suspend() < 0 then
			KSR.sl.sl_send_reply(500, "not suspended")
			return
		end
		local label = KSR.pv.get("$T(id_label)")
		if u == "badlabel" then
			label = label + 1000
			KSR.info("bad label rc=" .. KSR.tmx.t_continue(KSR.pv.get("$T(id_index)"), label, "ksr_resume"))
			return
		end
		KSR.info("continue rc=" .. KSR.tmx.t_continue(KSR.pv.get("$T(id_index)"), label, "ksr_resume"))
		KSR.x.exit()
	end
	local url = "http://{http}/" .. u
	if u == "down" then
		url = "http://{httpdown}/route"
	end
	if KSR.tm.t_newtran() <= 0 then
		-- a retransmission (absorbed) or an error: never a second query
		KSR.x.exit()
	end
	KSR.info("query rc=" .. KSR.http_async_client.query(url, "ksr_http_answer"))
	KSR.x.exit()
end

function ksr_http_answer()
	if KSR.pv.get("$http_ok") ~= 1 then
		KSR.info("answer ok=0: " .. KSR.pv.gete("$http_err"))
		KSR.tm.t_reply(503, "Routing service down")
		return
	end
	KSR.info("answer ok=1 rs=" .. KSR.pv.gete("$http_rs") .. " hdr=" .. KSR.pv.gete("$http_hdr(X-Route)") .. " rb=" .. KSR.pv.gete("$http_rb"))
	KSR.setdsturi(KSR.pv.gete("$http_rb"))
	if KSR.tm.t_relay() < 0 then
		KSR.tm.t_reply(500, "relay failed")
	end
end

function ksr_resume()
	KSR.info("resumed in a failure route context=" .. KSR.tmx.t_is_failure_route())
	KSR.tm.t_reply(202, "resumed")
end

function ksr_http_plain()
	KSR.sl.sl_send_reply(200, "no transaction rb=" .. KSR.pv.gete("$http_rb"))
end
