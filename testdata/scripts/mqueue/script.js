// mqueue: queue items from the request, drain the queue on X-Fetch, and
// report what was done in the reply reason.
function ksr_request_route() {
	var r = "mq";
	var k = KSR.pv.gete("$hdr(X-Key)");
	if (k !== "") {
		r += " add=" + KSR.mqueue.mq_add("q", k, KSR.pv.gete("$hdr(X-Val)"));
	}
	var flood = parseInt(KSR.pv.gete("$hdr(X-Flood)"), 10) || 0;
	for (var i = 1; i <= flood; i++) {
		KSR.mqueue.mq_add("q", "f" + i, KSR.pv.gete("$hdr(X-Val)"));
	}
	if (KSR.pv.gete("$hdr(X-Fetch)") !== "") {
		var items = [];
		var rc = KSR.mqueue.mq_fetch("q");
		while (rc > 0) {
			items.push(KSR.pv.get("$mqk(q)") + "=" + KSR.mqueue.mqv_get("q"));
			rc = KSR.mqueue.mq_fetch("q");
		}
		r += " items=" + items.join(",") + " last=" + rc + " k=" + KSR.mqueue.mqk_getw("q");
	}
	r += " size=" + KSR.mqueue.mq_size("q") + " pv=" + KSR.pv.get("$mq_size(q)") +
		" bad=" + KSR.mqueue.mq_size("nosuch");
	KSR.sl.sl_send_reply(200, r);
}
