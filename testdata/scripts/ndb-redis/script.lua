-- ndb_redis: see scenario.yaml.
function ksr_request_route()
	local r = KSR.ndb_redis
	local function v(k) return tostring(KSR.pv.get("$redis(" .. k .. ")")) end
	r.redis_cmd("srv", "INCR calls", "n")
	local incr = v("n=>value")
	r.redis_cmd_p2("srv", "SET %s %s", "key with space", "v w", "s")
	local set = v("s=>type")
	r.redis_cmd_p1("srv", "GET %s", "key with space", "g")
	r.redis_cmd("srv", "HSET h f1 a", "x")
	r.redis_cmd_p3("srv", "HMGET %s %s %s", "h", "f1", "nope", "a")
	r.redis_cmd("srv", "INCR h", "e")
	r.redis_pipe_cmd("srv", "SET p one", "p1")
	r.redis_pipe_cmd_p1("srv", "GET %s", "p", "p2")
	r.redis_execute("srv")
	r.redis_free("p1")
	local freed = KSR.pv.is_null("$redis(p1=>type)") and -1 or 1
	local nosrv = r.redis_cmd("nope", "PING", "z")
	KSR.sl.sl_send_reply(200, "incr=" .. incr .. " set=" .. set .. " get=" .. v("g=>value") ..
		" size=" .. v("a=>size") .. " v0=" .. v("a=>value[0]") .. " t1=" .. v("a=>type[1]") ..
		" err=" .. v("e=>type") .. " pipe=" .. v("p2=>value") .. " freed=" .. freed .. " nosrv=" .. nosrv)
end
