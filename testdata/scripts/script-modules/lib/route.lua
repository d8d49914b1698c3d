-- Lua module names start at the script's folder: lib/names.lua.
local names = require("lib.names")

local M = {}

function M.handle()
	local m = KSR.kx.get_method()
	KSR.info("module route for " .. m)
	KSR.sl.sl_send_reply(200, names.reason .. " " .. m)
end

return M
