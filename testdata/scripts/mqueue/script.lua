-- mqueue: queue items from the request, drain the queue on X-Fetch, and
-- report what was done in the reply reason.
function ksr_request_route()
	local r = "mq"
	local k = KSR.pv.gete("$hdr(X-Key)")
	if k ~= "" then
		r = r .. " add=" .. KSR.mqueue.mq_add("q", k, KSR.pv.gete("$hdr(X-Val)"))
	end
	local flood = tonumber(KSR.pv.gete("$hdr(X-Flood)")) or 0
	for i = 1, flood do
		KSR.mqueue.mq_add("q", "f" .. i, KSR.pv.gete("$hdr(X-Val)"))
	end
	if KSR.pv.gete("$hdr(X-Fetch)") ~= "" then
		local items = {}
		local rc = KSR.mqueue.mq_fetch("q")
		while rc > 0 do
			items[#items + 1] = KSR.pv.get("$mqk(q)") .. "=" .. KSR.mqueue.mqv_get("q")
			rc = KSR.mqueue.mq_fetch("q")
		end
		r = r .. " items=" .. table.concat(items, ",") .. " last=" .. rc .. " k=" .. KSR.mqueue.mqk_getw("q")
	end
	r = r .. " size=" .. KSR.mqueue.mq_size("q") .. " pv=" .. KSR.pv.get("$mq_size(q)") ..
		" bad=" .. KSR.mqueue.mq_size("nosuch")
	KSR.sl.sl_send_reply(200, r)
end
