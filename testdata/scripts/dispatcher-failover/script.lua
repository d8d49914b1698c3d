-- dispatcher failover: see scenario.yaml.
function ksr_request_route()
	if KSR.dispatcher.ds_select_dst(1, 8) < 0 then
		KSR.sl.sl_send_reply(503, "No destination")
		return
	end
	KSR.info("ds to " .. KSR.pv.get("$du") .. " count=" .. KSR.pv.get("$dsg(count)") ..
		" from_list=" .. KSR.dispatcher.ds_is_from_list(1) ..
		" uri_in_list=" .. KSR.dispatcher.ds_is_from_list_uri(1, 0, "sip:127.0.0.1:5072") .. "\n")
	KSR.tm.t_on_failure("ksr_failure")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end

function ksr_failure()
	KSR.info("failure " .. KSR.tm.t_get_status_code() .. "\n")
	if KSR.tm.t_is_canceled() > 0 then return end
	if KSR.tm.t_check_status("5[0-9][0-9]|408") > 0 then
		KSR.dispatcher.ds_mark_dst_state("ip")
		if KSR.dispatcher.ds_next_dst() > 0 then
			KSR.info("next " .. KSR.pv.get("$du") .. "\n")
			KSR.tm.t_on_failure("ksr_failure")
			KSR.tm.t_relay()
		end
	end
end

function ksr_dispatcher_event(evname)
	KSR.info("event " .. evname .. " " .. KSR.pv.get("$du") .. " " .. KSR.pv.get("$dsv(flags)") .. "\n")
end
