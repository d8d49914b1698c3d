-- htable iterators: set an item from the request, walk the table,
-- remove the "drop" items, list the rest in the reply reason.
function ksr_request_route()
	local k = KSR.pv.gete("$hdr(X-Key)")
	if k ~= "" then
		KSR.htable.sht_sets("t", k, KSR.pv.gete("$hdr(X-Val)"))
	end
	if KSR.pv.gete("$hdr(X-Leak)") ~= "" then
		local r = {}
		for i = 1, 5 do
			r[#r + 1] = KSR.htable.sht_iterator_start("leak" .. i, "t")
		end
		KSR.sl.sl_send_reply(200, "leak " .. table.concat(r, " "))
		return
	end
	local many = tonumber(KSR.pv.gete("$hdr(X-Many)")) or 0
	for i = 1, many do
		KSR.htable.sht_seti("t", "m" .. i, i)
	end
	local items = {}
	local n = 0
	local start = KSR.htable.sht_iterator_start("i1", "t")
	while KSR.htable.sht_iterator_next("i1") > 0 do
		local key = KSR.pv.get("$shtitkey(i1)")
		local val = KSR.pv.get("$shtitval(i1)")
		if val == "drop" then
			KSR.htable.sht_iterator_rm("i1")
		else
			n = n + 1
			if string.sub(key, 1, 1) ~= "m" then
				items[#items + 1] = key .. "=" .. val
			end
		end
	end
	KSR.htable.sht_iterator_end("i1")
	table.sort(items)
	KSR.sl.sl_send_reply(200, "start=" .. start .. " n=" .. n .. " items=" .. table.concat(items, ",") ..
		" left=" .. KSR.htable.sht_cn("t", "**", ""))
end
