-- Only a reply route: the config loader must see ksr_request_route is missing.
function ksr_reply_route()
end
local function helper() end
