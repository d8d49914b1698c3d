-- dispatcher selection: see scenario.yaml.
function ksr_request_route()
	local d = KSR.dispatcher
	d.ds_select_dst(1, 4)
	local rr = KSR.pv.get("$du")
	d.ds_select_dst(1, 0)
	local hash = KSR.pv.get("$du")
	d.ds_select_domain(2, 9)
	local alg10 = d.ds_select_dst(1, 10)
	local set9 = d.ds_select_dst(9, 4)
	KSR.sl.sl_send_reply(200, "rr=" .. rr .. " hash=" .. hash .. " ru=" .. KSR.pv.get("$ru") ..
		" alg10=" .. alg10 .. " set9=" .. set9 .. " active=" .. d.ds_is_active(1) .. " exists=" .. d.ds_list_exists(2))
end
