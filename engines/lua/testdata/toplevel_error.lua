function ksr_request_route() end
local x = nil
x.y = 1
