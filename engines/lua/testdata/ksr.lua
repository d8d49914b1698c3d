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
	assert(KSR.t.get("s") == "text")
	assert(KSR.t.get("i") == 42)
	assert(KSR.t.get("b") == true)
	assert(KSR.t.get("nothing") == nil)
end

function test_bool()
	assert(KSR.t.yes(true) == true)
	assert(KSR.t.yes(false) == false)
	assert(KSR.t.yes(1) == true)
	assert(KSR.t.yes(0) == false)
end

function test_long()
	assert(KSR.t.big(2^40) == 2^40 + 1)
end

function test_sandbox()
	for _, name in ipairs({"io", "require", "dofile", "loadfile", "load",
			"loadstring", "module", "package", "debug", "coroutine", "channel",
			"collectgarbage"}) do
		assert(_G[name] == nil, name .. " should be absent")
	end
	-- os keeps its clocks only
	assert(type(os.time()) == "number" and type(os.date("%Y")) == "string")
	assert(type(os.clock()) == "number" and os.difftime(2, 1) == 1)
	for _, name in ipairs({"exit", "execute", "remove", "rename", "getenv", "setenv", "tmpname", "setlocale"}) do
		assert(os[name] == nil, "os." .. name .. " should be absent")
	end
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
	assert(not pcall(string.rep, "x", 1e9), "string.rep is capped")
end

function test_errors_catchable()
	local ok, err = pcall(KSR.sl.sl_send_reply, "404", "x")
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
	assert(KSR.t.big(2^40) == 2^40 + 1, "long takes 64-bit values")
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
	assert(sr.t.get == KSR.t.get, "sr shares KSR's functions")
	assert(sr.info == KSR.info)
	assert(sr.auth == nil)
	assert(sr.sl.send_reply ~= nil and sr.sl.sl_send_reply ~= nil)
	assert(sr.sl ~= KSR.sl, "legacy names do not leak into KSR")
	sr.t.get("s")
end
