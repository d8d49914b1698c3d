-- kemi check must report every one of these, each at its line.
function ksr_request_route()
	KSR.sl.send_replyy(200, "OK")
	KSR.inof("request")
	KSR.sl.send_reply(200)
	KSR.sl.send_reply("OK", 200)
	KSR.tm.t_on_failure("ksr_failure_mange")
	KSR.htable.sht_seti("t", "k", 1)
end

function ksr_failure_manage()
end
