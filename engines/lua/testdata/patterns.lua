-- Lua 5.1 pattern matching cases. patterns.golden is what Lua 5.1 itself
-- (liblua5.1, which Kamailio's app_lua links) prints for results();
-- TestLuaPatterns_MatchLua51 checks that kemi's matcher gives the same.

-- esc quotes a string, writing bytes outside printable ASCII as \ddd
-- (string.format's %q differs between Lua and gopher-lua).
local function esc(s)
	local t = {}
	for i = 1, #s do
		local b = s:byte(i)
		if b < 32 or b > 126 or b == 34 or b == 92 then
			t[#t + 1] = string.format("\\%03d", b)
		else
			t[#t + 1] = string.char(b)
		end
	end
	return '"' .. table.concat(t) .. '"'
end

local function show(...)
	local n = select("#", ...)
	local t = {}
	for i = 1, n do
		local v = select(i, ...)
		t[#t + 1] = type(v) == "string" and esc(v) or tostring(v)
	end
	return "(" .. table.concat(t, ",") .. ")"
end

local function try(f, ...)
	local r = {pcall(f, ...)}
	if not r[1] then
		return "error: " .. tostring(r[2]):gsub("^.-:%d+: ", "")
	end
	return show(unpack(r, 2, table.maxn(r)))
end

local subjects = {
	"hello world", "", "aaa", "key=value; other=2", "  trim me  ",
	"f(a(b)c)d", "THE (quick) fox", "abc123def456", "x = 1, y = 22, z = 333",
	"sip:alice@example.com:5060;transport=udp", "a.b.c", "\0nul\0", "[brackets]",
	"100%", "one two  three", "aXbXc", "abab", "THE END", "caf\233",
}

local patterns = {
	"o", "l+", "l*", "l-", "l?", "^h", "d$", "^$", ".", ".-", ".*", "%a+", "%A+",
	"%d+", "%D", "%l+", "%u+", "%w+", "%W", "%s+", "%S+", "%p", "%x+", "%c", "%z",
	"[aeiou]", "[^aeiou]+", "[%a_]+", "[a-f]+", "[]]", "[^]]+", "[%]]", "[a-]", "[-a]",
	"(%w+)=(%w+)", "()ll()", "(h)(e)(l)", "((l)(l))", "%b()", "%bab", "%f[%w]%w+",
	"%f[%W]", "(a)%1", "(.)%1", "^%s*(.-)%s*$", "(%d+)", "x = (%d)", ":(%d+)",
	"^sip:([^@]+)@([^:;]+)", "%.", "a.c", "%%", "[%%]", "(%a+) (%a+)", "()",
	"^(a*)", "(a-)b", "a+b", "[%d%.]+", "[^%s]+$", "%s*$", "X", "$", "^", "a$b",
	"%", "[a", "(", ")", "%b", "%f", "(()", "%1", "(a)%2", "[%a-z]", "[a-%%]",
	"\0", "[\0]", "%z+", "\233", "[\128-\255]",
}

local inits = {nil, 1, 3, -2, 0, 100, -100}

function results()
	local out = {}
	local function add(s) out[#out + 1] = s end
	for _, s in ipairs(subjects) do
		for _, p in ipairs(patterns) do
			add(string.format("%s %s find %s match %s", esc(s), esc(p), try(string.find, s, p), try(string.match, s, p)))
			for i = 2, #inits do
				add(string.format("  init %d find %s match %s", inits[i], try(string.find, s, p, inits[i]), try(string.match, s, p, inits[i])))
			end
			add("  plain " .. try(string.find, s, p, 1, true))
			add("  gsub " .. try(string.gsub, s, p, "<%0>") .. " " .. try(string.gsub, s, p, "[%1]", 2) ..
				" " .. try(string.gsub, s, p, function(a, b) return b and (a .. "|" .. b) or nil end) ..
				" " .. try(string.gsub, s, p, {hello = "HI", a = false, l = 7}))
			local g = {}
			local ok, err = pcall(function()
				local n = 0
				for a, b in string.gmatch(s, p) do
					n = n + 1
					g[#g + 1] = show(a, b)
					if n > 50 then break end
				end
			end)
			add("  gmatch " .. (ok and table.concat(g, "") or ("error: " .. tostring(err):gsub("^.-:%d+: ", ""))))
		end
	end
	add(try(string.gsub, "hello", "", "-"))
	add(try(string.gsub, "hello", "l", "%%"))
	add(try(string.gsub, "hello", "l", "%x"))
	add(try(string.gsub, "hello", "(l)", "%2"))
	add(try(string.gsub, "hello", "l", "%1"))
	add(try(string.gsub, "hello", "l", "x", -1))
	add(try(string.gsub, "hello", "l", "x", 0))
	add(try(string.gsub, "abc", "%w", "%0%0"))
	add(try(string.gsub, "abc", "^", ">"))
	add(try(string.gsub, "abc", "$", "<"))
	add(try(string.gsub, "hello world", "(o)", {o = 0}))
	add(try(string.gsub, "hello", ".", {h = true}))
	add(try(string.find, "a+b", "+", 1))
	add(try(string.find, "abc", "b", 10, true))
	add(try(string.find, "", ""))
	add(try(string.find, "abc", "", 10))
	add(try(string.match, "  x", "()x()"))
	add(try(string.match, string.rep("a", 40), string.rep("(a)", 33)))
	return table.concat(out, "\n") .. "\n"
end

if not KSR then io.write(results()) end
