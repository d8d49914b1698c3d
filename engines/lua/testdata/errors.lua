-- Failures with known line numbers; errors_test.go checks them.
function bad_count()
	KSR.sl.sl_send_reply(404)
end

function bad_type()
	KSR.sl.sl_send_reply("404", 5)
end

function bad_float()
	KSR.sl.sl_send_reply(404.5, "x")
end

function runtime_error()
	local t = nil
	return t.field
end

function fail_export()
	KSR.kx.fail()
end

function crash_export()
	KSR.kx.crash()
end

function runaway()
	while true do end
end

function runaway_pcall()
	while true do
		pcall(function() while true do end end)
	end
end

function fine()
	KSR.sl.sl_send_reply(200, "still fine")
end

not_a_function = 5

function recurse()
	local function f(n) return 1 + f(n + 1) end
	return f(1)
end
