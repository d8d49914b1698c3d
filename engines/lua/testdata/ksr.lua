-- Behaviour of the KSR binding, checked from Lua. Each test_* function is
-- run as a callback by TestScript; a failed assert fails that subtest.

function test_binding()
	assert(type(KSR) == "table")
	assert(KSR.sl.sl_send_reply(404, "Not Found") == 1)
	assert(KSR.sl.sreply == KSR.sl.sl_send_reply, "aliases share the function")
	assert(KSR.maxfwd.process_maxfwd(10) == 1)
	KSR.info("hello from lua")
end

function test_missing_module()
	assert(KSR.auth == nil)
	if KSR.auth then error("auth should be absent") end
	assert(KSR.sl.no_such_function == nil)
end

function test_xval()
	assert(KSR.kx.xval(1) == "one")
	assert(KSR.kx.xval(42) == 42)
	assert(KSR.kx.xval(2) == true)
	assert(KSR.kx.xval(0) == nil)
end

function test_bool()
	assert(KSR.kx.negate(true) == false)
	assert(KSR.kx.negate(false) == true)
	assert(KSR.kx.negate(1) == false, "a number is a bool, as Kamailio passes flags as ints")
	assert(KSR.kx.negate(0) == true)
end

function test_long()
	assert(KSR.kx.xval(2^40) == 2^40)
end

function test_sandbox()
	-- Lua 5.1's libraries, as Kamailio's app_lua has them (issue 11);
	-- gopher-lua's channel library and _printregs stay out.
	for _, name in ipairs({"io", "require", "dofile", "loadfile", "load",
			"loadstring", "module", "package", "debug", "coroutine",
			"collectgarbage"}) do
		assert(_G[name] ~= nil, name .. " should be there")
	end
	assert(_G.channel == nil and _G._printregs == nil)
	assert(type(os.time()) == "number" and type(os.date("%Y")) == "string")
	assert(type(os.clock()) == "number" and os.difftime(2, 1) == 1)
	for _, name in ipairs({"exit", "execute", "remove", "rename", "getenv", "tmpname", "setlocale"}) do
		assert(type(os[name]) == "function", "os." .. name .. " should be there")
	end
	local ok, err = pcall(os.exit, 0)
	assert(not ok and err:find("os.exit: not allowed", 1, true), err)
	-- string.find: plain patterns take the fast path, others the full one
	assert(string.find("friendly-scanner", "friendly") == 1)
	local a, b = string.find("my sipcli 1.0", "sipcli")
	assert(a == 4 and b == 9)
	assert(string.find("abc", "zz") == nil)
	assert(string.find("a.c", ".", 1, true) == 2)
	assert(string.find("abc", "b", 3) == nil)
	assert(string.find("abc", "b", 2) == 2)
	assert(string.find("abc", "%a+") == 1)
	assert(select(2, string.find("abc", "b.")) == 3)
	assert(select(3, string.find("key=val", "(%w+)=")) == "key")
	assert(string.format("%d-%s", 3, "x") == "3-x")
	assert(("abc"):upper() == "ABC")
	assert(table.concat({"a", "b"}, ",") == "a,b")
	assert(math.floor(2.5) == 2)
	assert(string.rep("ab", 3) == "ababab")
end

-- string.gsub is kemi's own (gsub.go): Lua 5.1's results.
function test_gsub()
	local function eq(want, wn, got, n)
		assert(got == want and n == wn, string.format("got %q %d, want %q %d", tostring(got), n, want, wn))
	end
	eq("hell0 w0rld", 2, string.gsub("hello world", "o", "0"))
	eq("hell0 world", 1, string.gsub("hello world", "o", "0", 1))
	eq("-h-e-l-l-o-", 6, string.gsub("hello", "", "-"))
	eq("aabbcc", 3, string.gsub("abc", "%w", "%0%0"))
	eq("a!b!c!", 3, string.gsub("abc", "%w", "%1!"))
	eq("world hello", 1, string.gsub("hello world", "(%w+) (%w+)", "%2 %1"))
	eq("100% of", 1, string.gsub("100%", "%%", "%% of"))
	eq("axc", 1, string.gsub("abc", "b", "%x"))
	eq("Xbc", 1, string.gsub("abc", "^a", "X"))
	eq("Xaa", 1, string.gsub("aaa", "^a", "X"))
	eq("abc", 0, string.gsub("abc", "x", "y"))
	eq("abc", 0, string.gsub("abc", "b", "y", 0))
	eq("bob is 7", 2, string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 7}))
	eq("bob $none", 2, string.gsub("$name $none", "%$(%w+)", {name = "bob"}))
	eq("A,B", 2, string.gsub("a,b", "%w", function(c) return c:upper() end))
	eq("a,x", 2, string.gsub("a,b", "%w", function(c) if c == "a" then return false end return "x" end))
	eq("v=k", 1, string.gsub("k=v", "(%w)=(%w)", function(k, v) return v .. "=" .. k end))
	eq("a2c", 1, string.gsub("abc", "()b", "%1"))
	assert(not pcall(string.gsub, "abc", "b", "%2"), "invalid capture index")
	assert(not pcall(string.gsub, "abc", "b", function() return {} end), "invalid replacement value")
	assert(("x y"):gsub(" ", "_") == "x_y")
end

-- KSR, sr and their modules are read-only (readonly.go); the errors are
-- ordinary script errors, and nothing is changed.
function test_ksr_readonly()
	local function refused(f, want)
		local ok, err = pcall(f)
		assert(not ok, "not refused: " .. want)
		assert(string.find(err, want, 1, true), err)
	end
	refused(function() KSR.sl = nil end, "KSR is read-only: cannot assign KSR.sl")
	refused(function() KSR.sl.sl_send_reply = print end, "KSR is read-only: cannot assign KSR.sl.sl_send_reply")
	refused(function() KSR.new = 1 end, "KSR is read-only: cannot assign KSR.new")
	refused(function() KSR[1] = 1 end, "KSR is read-only: cannot assign KSR[1]")
	refused(function() local k = KSR; k["sl"] = {} end, "cannot assign KSR.sl")
	refused(function() sr.sl = nil end, "sr is read-only: cannot assign sr.sl")
	refused(function() sr.sl.send_reply = nil end, "sr is read-only: cannot assign sr.sl.send_reply")
	refused(function() rawset(KSR, "sl", nil) end, "KSR is read-only: cannot change KSR.sl with rawset")
	refused(function() table.insert(KSR.sl, 1) end, "cannot change KSR.sl with table.insert")
	refused(function() table.remove(KSR.sl) end, "cannot change KSR.sl with table.remove")
	refused(function() table.sort(KSR) end, "cannot change KSR with table.sort")
	refused(function() setmetatable(KSR, nil) end, "cannot change a protected metatable")
	refused(function() setmetatable(KSR.sl, {}) end, "cannot change a protected metatable")
	refused(function() setfenv(1, KSR) end, "cannot change KSR with setfenv")
	refused(function() setmetatable({}, {__newindex = KSR.sl}) end, "KSR.sl")
	refused(function() local mt = {}; mt.__newindex = KSR end, "cannot change KSR with __newindex")
	refused(function() rawset({}, "__newindex", KSR) end, "cannot change KSR with __newindex")
	refused(function() setmetatable("", {}) end, "cannot change a protected metatable")
	refused(function() KSR = nil end, "KSR is read-only: cannot assign the global KSR")
	refused(function() sr = {} end, "sr is read-only: cannot assign the global sr")
	refused(function() _G.KSR = nil end, "KSR is read-only: cannot assign the global KSR")
	refused(function() _G["sr"] = nil end, "sr is read-only: cannot assign the global sr")
	refused(function() rawset(_G, "KSR", nil) end, "cannot change the global KSR with rawset")
	refused(function() local g = getfenv(1); g.KSR = 1 end, "cannot assign the global KSR")
	other_global = 1 -- other globals are the script's own
	assert(getmetatable(KSR) == "read-only")
	assert(getmetatable("") == "the string metatable is read-only")
	assert(("abc"):sub(2, 2) == "b", "string methods still work")
	assert(type(KSR.sl) == "table" and KSR.sl.sl_send_reply(200, "OK") == 1)
	assert(sr.sl.send_reply(200, "OK") == 1)
	local n, seen = 0, false
	for k, v in pairs(KSR) do
		n = n + 1
		if k == "sl" then seen = true end
	end
	assert(seen and n > 3, "pairs(KSR) lists its members")
	assert(next(KSR.sl) ~= nil)
	local other = {}
	other.x = 1 -- ordinary tables are untouched
	rawset(other, "y", 2)
	table.insert(other, 3)
	assert(other.x == 1 and other.y == 2 and other[1] == 3)
end

function test_errors_catchable()
	local ok, err = pcall(KSR.sl.sl_send_reply, "4o4", "x")
	assert(not ok)
	assert(string.find(err, "KSR.sl.sl_send_reply: expected (int, str), got (string, string)", 1, true), err)
end

function test_print()
	print("from", "print", 7)
end

function test_exit()
	KSR.sl.sl_send_reply(200, "before exit")
	KSR.x.exit()
	KSR.sl.sl_send_reply(500, "after exit")
end

function test_exit_deep()
	local function deep(n)
		if n == 0 then KSR.x.exit() end
		deep(n - 1)
	end
	deep(5)
	error("not reached")
end

function test_drop()
	KSR.x.drop()
	KSR.sl.sl_send_reply(500, "after drop")
end

-- A route can redefine another; Call follows the current global.
function test_redefine()
	ksr_later = function() KSR.info("later") end
end

function test_int_range()
	local ok, err = pcall(KSR.sl.sl_send_reply, 2^63, "x")
	assert(not ok)
	assert(err:find("got (number 9223372036854776000 (out of range), string)", 1, true), err)
	assert(KSR.kx.xval(2^40) == 2^40, "long takes 64-bit values")
	assert(KSR.sl.sl_send_reply(2^31, "x") == 1, "int is 64-bit too")
end

-- Exit from the places a Lua frame can be suspended in: the route must
-- stop right there, whichever way raiseExit unwinds.

function test_exit_tail()
	local function leave() return KSR.x.exit() end
	leave()
	KSR.sl.sl_send_reply(500, "after tail exit")
end

function test_exit_in_expression()
	local function f() return 1 + (KSR.x.exit() or 0) end
	local x = f() + f()
	KSR.sl.sl_send_reply(500, "after exit in expression")
end

function test_exit_metamethod()
	local t = setmetatable({}, {__index = function(t, k) KSR.x.exit(); return 1 end})
	local v = t.missing
	KSR.sl.sl_send_reply(500, "after exit in __index")
end

function test_exit_comparison()
	local mt = {__lt = function(a, b) KSR.x.exit(); return true end}
	local a, b = setmetatable({}, mt), setmetatable({}, mt)
	if a < b then KSR.sl.sl_send_reply(500, "after exit in __lt") end
	KSR.sl.sl_send_reply(500, "after exit in __lt")
end

function test_exit_iterator()
	local function iter(s, i)
		if i >= 3 then KSR.x.exit() end
		return i + 1
	end
	for i in iter, nil, 0 do
		KSR.info("iteration " .. i)
	end
	KSR.sl.sl_send_reply(500, "after exit in iterator")
end

function test_exit_sort()
	local t = {3, 1, 2}
	table.sort(t, function(a, b) KSR.x.exit(); return a < b end)
	KSR.sl.sl_send_reply(500, "after exit in sort")
end

function test_exit_gsub()
	string.gsub("aaa", "a", function() KSR.x.exit() end)
	KSR.sl.sl_send_reply(500, "after exit in gsub")
end

function test_exit_closure()
	-- Upvalues are closed when the frames return: the closure kept in a
	-- global still sees its value afterwards.
	local kept = "kept"
	saved = function() return kept end
	KSR.x.exit()
end

function check_saved()
	assert(saved() == "kept", "closure upvalue after exit: " .. tostring(saved()))
end

function test_sr_mirrors_ksr()
	assert(sr.kx.xval == KSR.kx.xval, "sr shares KSR's functions")
	assert(sr.info == KSR.info)
	assert(sr.auth == nil)
	assert(sr.sl.send_reply ~= nil and sr.sl.sl_send_reply ~= nil)
	assert(sr.sl ~= KSR.sl, "legacy names do not leak into KSR")
	sr.kx.xval(1)
end
