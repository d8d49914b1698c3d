-- Record-Route initial requests; route in-dialog (and preloaded) ones by
-- their Route headers and tell what loose_route decided in the reason.
function ksr_request_route()
	if KSR.siputils.has_totag() > 0 or KSR.hdr.is_present("Route") > 0 then
		local rc = KSR.rr.loose_route()
		KSR.sl.sl_send_reply(200, "lr=" .. rc ..
			" du=" .. KSR.pv.getw("$du") ..
			" ru=" .. KSR.pv.getw("$ru") ..
			" down=" .. KSR.rr.is_direction("downstream") ..
			" nat=" .. KSR.rr.check_route_param("nat=yes") ..
			" next=" .. KSR.rr.next_hop_route())
		return
	end
	KSR.rr.add_rr_param(";nat=yes")
	local rc = KSR.rr.record_route()
	local again = KSR.rr.record_route()
	KSR.sl.sl_send_reply(180, "rr=" .. rc .. " again=" .. again ..
		" first=" .. KSR.siputils.is_first_hop())
end
