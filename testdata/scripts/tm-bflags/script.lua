-- Branch flags in branch, onreply and failure routes: branch 0 carries the
-- flag set in the request route, the appended branch its own; a flag set
-- in a branch route stays with that branch.
local function b(f) if KSR.isbflagset(f) then return "1" end return "0" end

function ksr_request_route()
	KSR.corex.append_branch_uri("sip:carol@127.0.0.1:5072")
	KSR.setbflag(6)
	KSR.tm.t_on_branch("ksr_branch")
	KSR.tm.t_on_reply("ksr_onreply")
	KSR.tm.t_on_failure("ksr_failure")
	KSR.tm.t_relay()
end

function ksr_branch()
	KSR.info("branch " .. KSR.tm.t_get_branch_index() .. " bflag6=" .. b(6))
	if KSR.tm.t_get_branch_index() == 1 then KSR.setbflag(8) end
end

function ksr_onreply()
	KSR.info("onreply " .. KSR.tm.t_get_status_code() .. " branch " .. KSR.tm.t_get_branch_index() .. " bflag6=" .. b(6) .. " bflag8=" .. b(8))
end

function ksr_failure()
	KSR.info("failure " .. KSR.tm.t_get_status_code() .. " bflag6=" .. b(6) .. " bflag8=" .. b(8))
end
