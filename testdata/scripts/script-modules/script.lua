-- The routing lives in lib/route.lua, next to this script.
local route = require("lib.route")

function ksr_request_route()
	route.handle()
end
