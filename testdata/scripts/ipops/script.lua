-- ipops on $si and on addresses carried in headers; the reply reason
-- lists every result.
function ksr_request_route()
	local si = KSR.pv.get("$si")
	local x = KSR.pv.gete("$hdr(X-IP)")
	KSR.sl.sl_send_reply(200, "si4=" .. KSR.ipops.is_ip4(si) ..
		" type=" .. KSR.ipops.ip_type(x) ..
		" pure=" .. KSR.ipops.is_pure_ip(x) ..
		" ip6=" .. KSR.ipops.is_ip6(x) ..
		" isip=" .. KSR.ipops.is_ip(x) ..
		" cmp=" .. KSR.ipops.compare_ips(x, "2001:db8:0::1") ..
		" lo=" .. KSR.ipops.ip_is_in_subnet(si, "10.0.0.0/8, 127.0.0.0/8") ..
		" net6=" .. KSR.ipops.is_in_subnet(x, "2001:db8::/32") ..
		" priv=" .. KSR.ipops.is_ip_rfc1918(KSR.pv.gete("$hdr(X-Priv)")) ..
		" net=" .. KSR.ipops.ip_is_in_subnet(si, KSR.pv.gete("$hdr(X-Net)")))
end
