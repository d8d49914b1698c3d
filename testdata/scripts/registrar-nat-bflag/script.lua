-- nat_bflag: the REGISTER behind NAT has branch flag 6 set when saved;
-- lookup restores it, and the branch route sees it, as Kamailio's
-- ksr_branch_manage / ksr_route_natmanage rely on.
local FLB_NATB = 6

function ksr_request_route()
	if KSR.is_REGISTER() then
		if KSR.hdr.is_present("X-Nat") > 0 then KSR.setbflag(FLB_NATB) end
		if KSR.registrar.save("location", 0) < 0 then KSR.sl.sl_reply_error() end
		KSR.x.exit()
	end
	if KSR.registrar.lookup("location") < 0 then
		KSR.sl.send_reply(404, "Not Found")
		KSR.x.exit()
	end
	KSR.tm.t_on_branch("ksr_branch_manage")
	KSR.tm.t_relay()
end

function ksr_branch_manage()
	if KSR.isbflagset(FLB_NATB) then
		KSR.info("branch " .. KSR.kx.get_ruri() .. " is behind NAT")
	else
		KSR.info("branch " .. KSR.kx.get_ruri() .. " is not behind NAT")
	end
end
