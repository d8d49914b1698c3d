// ndb_redis: see scenario.yaml.
function ksr_request_route() {
	var r = KSR.ndb_redis;
	function v(k) { return String(KSR.pv.get("$redis(" + k + ")")); }
	r.redis_cmd("srv", "INCR calls", "n");
	var incr = v("n=>value");
	r.redis_cmd_p2("srv", "SET %s %s", "key with space", "v w", "s");
	var set = v("s=>type");
	r.redis_cmd_p1("srv", "GET %s", "key with space", "g");
	r.redis_cmd("srv", "HSET h f1 a", "x");
	r.redis_cmd_p3("srv", "HMGET %s %s %s", "h", "f1", "nope", "a");
	r.redis_cmd("srv", "INCR h", "e");
	r.redis_pipe_cmd("srv", "SET p one", "p1");
	r.redis_pipe_cmd_p1("srv", "GET %s", "p", "p2");
	r.redis_execute("srv");
	r.redis_free("p1");
	var freed = KSR.pv.is_null("$redis(p1=>type)") ? -1 : 1;
	var nosrv = r.redis_cmd("nope", "PING", "z");
	KSR.sl.sl_send_reply(200, "incr=" + incr + " set=" + set + " get=" + v("g=>value") +
		" size=" + v("a=>size") + " v0=" + v("a=>value[0]") + " t1=" + v("a=>type[1]") +
		" err=" + v("e=>type") + " pipe=" + v("p2=>value") + " freed=" + freed + " nosrv=" + nosrv);
}
