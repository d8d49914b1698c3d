// KSR.sqlops: queries, results, xavps and pvs from a real database.
function ksr_request_route() {
	var kept = KSR.sqlops.sql_num_rows("keep");
	var rc = KSR.sqlops.sql_query("ca", "SELECT id, name, note FROM sqlops_users ORDER BY id", "ra");
	var rows = KSR.pv.gete("$dbr(ra=>rows)");
	var r1c1 = KSR.pv.gete("$dbr(ra=>[1,1])");
	var col2 = KSR.pv.gete("$dbr(ra=>colname[2])");
	var isnull = KSR.sqlops.sql_is_null("ra", 1, 2);
	var id = KSR.sqlops.sql_result_get("ra", 1, 0);
	// changes nothing the second time: the note is already 'seen'
	var up = KSR.sqlops.sql_query("ca", "UPDATE sqlops_users SET note = 'seen' WHERE id = 1 AND note <> 'seen'", "");
	var aff = KSR.pv.gete("$sqlrows(ca)");
	var x = KSR.sqlops.sql_xquery("ca", "SELECT name, note FROM sqlops_users ORDER BY id", "xr");
	var xname = KSR.pv.gete("$xavp(xr[1]=>name)");
	var xnote = KSR.pv.gete("$xavp(xr[0]=>note)");
	var pv = KSR.sqlops.sql_pvquery("ca", "SELECT note FROM sqlops_users WHERE id = 1", "$var(note)");
	var note = KSR.pv.gete("$var(note)");
	var bad = KSR.sqlops.sql_query("ca", "SELECT * FROM no_such_table", "rb");
	var big = KSR.sqlops.sql_query("ca", "SELECT a.id FROM sqlops_users a, sqlops_users b, sqlops_users c", "rbig");
	KSR.sqlops.sql_result_free("ra");
	var freed = KSR.pv.gete("$dbr(ra=>rows)");
	KSR.sqlops.sql_query("ca", "SELECT id FROM sqlops_users", "keep");
	KSR.sl.sl_send_reply(200, "rc=" + rc + " rows=" + rows + " r1c1=" + r1c1 + " col2=" + col2 +
		" null=" + isnull + " id=" + id + " up=" + up + " aff=" + aff + " x=" + x +
		" xname=" + xname + " xnote=" + xnote + " pv=" + pv + " note=" + note +
		" bad=" + bad + " big=" + big + " freed=" + freed + " kept=" + kept);
}
