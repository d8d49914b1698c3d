-- A module of the script's own, found in the script's folder by require.
HELPER_LOADS = (HELPER_LOADS or 0) + 1

local M = {name = "helper v1"}

function M.reason(sum)
	return "stdlib ok sum=" .. sum
end

return M
