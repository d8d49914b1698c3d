-- SQL built with $(...{sql.val}) from header values that try to break
-- out of the quotes: each is stored and read back as it came, matches
-- only itself, and a missing header is stored as NULL.
function ksr_request_route()
	local g = KSR.pv.get
	local ins = KSR.sqlops.sql_query("ca", "INSERT INTO quote_notes (id, note) VALUES (1, " ..
		g("$(hdr(X-Note){sql.val})") .. "), (2, " .. g("$(hdr(X-Tail){sql.val})") .. "), (3, " ..
		g("$(hdr(X-Inject){sql.val})") .. "), (4, " .. g("$(hdr(X-None){sql.val})") .. ")", "")
	local same = 0
	for i, h in ipairs({"X-Note", "X-Tail", "X-Inject"}) do
		KSR.sqlops.sql_query("ca", "SELECT note FROM quote_notes WHERE id = " .. i, "r")
		if KSR.pv.gete("$dbr(r=>[0,0])") == g("$hdr(" .. h .. ")") then
			same = same + 1
		end
	end
	KSR.sqlops.sql_query("ca", "SELECT id FROM quote_notes WHERE note = " .. g("$(hdr(X-Inject){sql.val})"), "m")
	local match = KSR.pv.gete("$dbr(m=>rows)") .. ":" .. KSR.pv.gete("$dbr(m=>[0,0])")
	KSR.sqlops.sql_query("ca", "SELECT id FROM quote_notes WHERE note IS NULL", "n")
	local null = KSR.pv.gete("$dbr(n=>[0,0])")
	KSR.sqlops.sql_query("ca", "SELECT count(*) FROM quote_notes", "c")
	KSR.sl.sl_send_reply(200, "ins=" .. ins .. " same=" .. same .. " match=" .. match ..
		" null=" .. null .. " count=" .. KSR.pv.gete("$dbr(c=>[0,0])"))
end
