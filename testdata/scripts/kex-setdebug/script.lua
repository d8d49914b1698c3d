-- kex: setdebug raises this worker's level until resetdebug.
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.dbg("before\n")
		KSR.kex.setdebug(3)
		KSR.dbg("during\n")
		KSR.xlog.xdbg("xlog during $rm\n")
		KSR.sl.sl_send_reply(200, "bad=" .. KSR.kex.setdebug(99))
		return
	end
	KSR.dbg("kept for the next message\n")
	KSR.kex.resetdebug()
	KSR.dbg("after reset\n")
	KSR.sl.sl_send_reply(200, "OK")
end
