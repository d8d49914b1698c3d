// htable iterators: set an item from the request, walk the table,
// remove the "drop" items, list the rest in the reply reason.
function ksr_request_route() {
	var k = KSR.pv.gete("$hdr(X-Key)");
	if (k !== "") {
		KSR.htable.sht_sets("t", k, KSR.pv.gete("$hdr(X-Val)"));
	}
	if (KSR.pv.gete("$hdr(X-Leak)") !== "") {
		var r = [];
		for (var i = 1; i <= 5; i++) {
			r.push(KSR.htable.sht_iterator_start("leak" + i, "t"));
		}
		KSR.sl.sl_send_reply(200, "leak " + r.join(" "));
		return;
	}
	var many = parseInt(KSR.pv.gete("$hdr(X-Many)"), 10) || 0;
	for (var j = 1; j <= many; j++) {
		KSR.htable.sht_seti("t", "m" + j, j);
	}
	var items = [];
	var n = 0;
	var start = KSR.htable.sht_iterator_start("i1", "t");
	while (KSR.htable.sht_iterator_next("i1") > 0) {
		var key = KSR.pv.get("$shtitkey(i1)");
		var val = KSR.pv.get("$shtitval(i1)");
		if (val === "drop") {
			KSR.htable.sht_iterator_rm("i1");
		} else {
			n++;
			if (key.charAt(0) !== "m") {
				items.push(key + "=" + val);
			}
		}
	}
	KSR.htable.sht_iterator_end("i1");
	items.sort();
	KSR.sl.sl_send_reply(200, "start=" + start + " n=" + n + " items=" + items.join(",") +
		" left=" + KSR.htable.sht_cn("t", "**", ""));
}
