-- Issue 13: $proto, $conid, KSR.kx.get_conid, KSR.is_TCP/is_TLS.
local function yn(b) if b then return "yes" end return "no" end
function ksr_request_route()
	local conid = KSR.pv.get("$conid")
	if conid == nil then conid = "none" end
	KSR.sl.sl_send_reply(200, KSR.pv.get("$proto") .. " conid " .. conid .. " kx " .. KSR.kx.get_conid() ..
		" tcp " .. yn(KSR.is_TCP()) .. " tls " .. yn(KSR.is_TLS()))
end
