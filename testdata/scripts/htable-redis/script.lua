-- htable shared through Redis: see scenario.yaml.
function ksr_request_route()
	local banned = KSR.htable.sht_get("ipban", KSR.pv.get("$si"))
	KSR.pv.seti("$sht(ipban=>$si)", 1)
	local hits = KSR.htable.sht_inc("ipban", "hits")
	KSR.ndb_redis.redis_cmd_p1("srv", "GET kemi:htable:ipban:%s", KSR.pv.get("$si"), "g")
	KSR.ndb_redis.redis_cmd_p1("srv", "TTL kemi:htable:ipban:%s", KSR.pv.get("$si"), "t")
	local code = 200
	if banned == 1 then code = 403 end
	KSR.sl.sl_send_reply(code, "banned=" .. banned .. " inredis=" .. KSR.pv.get("$redis(g=>value)") ..
		" ttl=" .. KSR.pv.get("$redis(t=>value)") .. " hits=" .. hits)
end
