-- How real Kamailio Lua scripts start: find the script's folder, extend
-- package.path, require helpers, read the environment and a file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "lib/?.lua;" .. package.path

local helper = require("helper")      -- helper.lua, next to this script
local util = require("lib.util")      -- lib/util.lua, by the folder search
local greeting = os.getenv("KEMI_STDLIB_GREETING") or "unset"

local banner
do
	local f = assert(io.open(here .. "banner.txt", "r"))
	banner = f:read("*l")
	f:close()
end

function ksr_request_route()
	if KSR.pv.get("$rm") == "INFO" then
		local ok, err = pcall(require, "no_such_module")
		KSR.info("stdlib: " .. tostring(err) .. "\n")
		KSR.sl.sl_send_reply(500, "require failed")
		return
	end
	local trace = debug.traceback("stdlib", 1)
	local gen = coroutine.wrap(function()
		for i = 1, 3 do coroutine.yield(i) end
	end)
	local sum = gen() + gen() + gen()
	local exited = pcall(os.exit, 1)
	KSR.info("stdlib: helper=" .. helper.name .. " util=" .. util.name .. " env=" .. greeting ..
		" banner=" .. banner .. "\n")
	KSR.info("stdlib: traceback has the route: " ..
		tostring(trace:find("script.lua:24", 1, true) ~= nil) .. "\n")
	KSR.info("stdlib: os.exit refused: " .. tostring(not exited) .. "\n")
	KSR.info("stdlib: helper loads=" .. HELPER_LOADS .. "\n")
	KSR.sl.sl_send_reply(200, helper.reason(sum))
end
