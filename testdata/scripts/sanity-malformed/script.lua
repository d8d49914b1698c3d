-- Issue 11: malformed requests reach the script; sanity_check answers them.
function ksr_request_route()
	local ci = KSR.pv.get("$ci")
	if ci == "short-body@scenario" then
		KSR.info("script saw short-body body=[" .. string.gsub(KSR.pv.get("$rb"), "\r\n", "") .. "] cl=" .. tostring(KSR.pv.get("$cl")) .. "\n")
	elseif ci == "short-body-ack@scenario" then
		KSR.info("script saw short-body-ack\n")
	elseif ci == "cseq-1x@scenario" then
		KSR.info("script saw cseq-1x\n")
	end
	if KSR.sanity.sanity_check_defaults() < 0 then
		KSR.x.exit()
	end
	KSR.sl.sl_send_reply(200, "fine")
end
