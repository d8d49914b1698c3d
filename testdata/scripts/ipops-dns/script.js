// ipops DNS queries for the names in X-Host and X-Domain; the reply
// reason lists the results and what the pseudo-variables hold.
function v(pv) {
	var x = KSR.pv.get(pv);
	if (x === null || x === undefined) return "<null>";
	return String(x);
}

function ksr_request_route() {
	var h = KSR.pv.gete("$hdr(X-Host)");
	var d = KSR.pv.gete("$hdr(X-Domain)");
	var rd = KSR.ipops.dns_query(h, "a");
	var rs = KSR.ipops.srv_query("_sip._udp." + d, "s");
	var rn = KSR.ipops.naptr_query(d, "n");
	var rp = KSR.ipops.ptr_query("127.0.0.2", "p");
	KSR.sl.sl_send_reply(200, "dns=" + rd + " n=" + v("$dns(a=>count)") +
		" v4=" + v("$dns(a=>ipv4)") + " v6=" + v("$dns(a=>ipv6)") +
		" a0=" + v("$dns(a=>addr[0])") + " t1=" + v("$dns(a=>type[1])") +
		" srv=" + rs + " sn=" + v("$srvquery(s=>count)") +
		" st0=" + v("$srvquery(s=>target[0])") + " sp0=" + v("$srvquery(s=>port[0])") +
		" sp1=" + v("$srvquery(s=>port[1])") +
		" naptr=" + rn + " ns=" + v("$naptrquery(n=>services[0])") +
		" nr=" + v("$naptrquery(n=>replace[0])") +
		" ptr=" + rp + " h=" + v("$ptrquery(p=>hostname)"));
}
