-- The dispatcher bench: the bench proxy with the next hop picked by
-- dispatcher round robin over set 1 (dispatcher.sh writes the list),
-- each call tracked by dialog (dlg_manage on the INVITE and on the
-- in-dialog requests: ACK confirms, BYE ends).
function ksr_request_route()
	if KSR.maxfwd.process_maxfwd(10) < 0 then
		KSR.sl.sl_send_reply(483, "Too Many Hops")
		return
	end
	if KSR.siputils.has_totag() > 0 then
		if KSR.rr.loose_route() > 0 then
			KSR.dialog.dlg_manage()
			KSR.tm.t_relay()
			return
		end
		if KSR.is_ACK() then
			if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
			return
		end
		KSR.sl.sl_send_reply(404, "Not here")
		return
	end
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then KSR.tm.t_relay() end
		return
	end
	KSR.hdr.remove("Route")
	if KSR.is_INVITE() then
		KSR.dialog.dlg_manage()
		KSR.rr.record_route()
	end
	if KSR.dispatcher.ds_select_dst(1, 4) < 0 then
		KSR.sl.sl_send_reply(503, "No destination")
		return
	end
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
