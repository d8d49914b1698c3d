// Callbacks exercised by engine_test.go. The top level runs once per VM.
var loads = 0;
loads++;
KSR.info("top level ran");

function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.send_reply(483, "Too Many Hops");
		return;
	}
	KSR.sl.sl_send_reply(200, "OK");
}

// Results come back typed: int, bool, xval (null, string, number).
function results() {
	var r = KSR.sl.sl_send_reply(180, "Ringing");
	KSR.info("sl=" + typeof r + ":" + r);
	KSR.info("is_method=" + KSR.is_method("INVITE") + "," + KSR.is_method("BYE"));
	KSR.info("negate=" + KSR.kx.negate(false) + "," + KSR.kx.negate(true));
	var x0 = KSR.kx.xval(0), x1 = KSR.kx.xval(1), x2 = KSR.kx.xval(5000000000);
	KSR.info("xval=" + (x0 === null) + "," + typeof x1 + ":" + x1 + "," + typeof x2 + ":" + x2);
	KSR.info("info=" + typeof KSR.info("ignored"));
	KSR.info("int-as-float=" + KSR.sl.sl_send_reply(200.0, "OK"));
}

// A module that is not loaded is undefined, so scripts can test for it.
function absent() {
	if (typeof KSR.auth === "undefined" && !KSR.auth) {
		KSR.info("no auth");
	}
	KSR.info("nofunc=" + typeof KSR.sl.no_such_function);
}

function bad_types() {
	KSR.sl.sl_send_reply("200", 1); // MARK:bad_types
}

function bad_count() {
	KSR.sl.sl_send_reply(200);
}

function bad_float() {
	KSR.sl.sl_send_reply(200.5, "OK");
}

function bad_bool() {
	KSR.kx.negate(1);
}

// exit unwinds everything: catch and finally do not see it.
function do_exit() {
	try {
		KSR.sl.sl_send_reply(200, "OK");
		[1].forEach(function () { KSR.x.exit(); });
	} catch (e) {
		KSR.info("caught " + e);
	} finally {
		KSR.info("finally ran");
	}
	KSR.info("after exit");
}

function do_drop() {
	KSR.x.drop();
	KSR.info("after drop");
}

function runtime_error() {
	var t = null;
	return t.field; // MARK:runtime_error
}

function thrown() {
	throw new Error("by the script"); // MARK:thrown
}

// An export's error is a JavaScript exception the script may catch.
function go_error() {
	try {
		KSR.kx.fail();
	} catch (e) {
		KSR.info("caught: " + e.message);
	}
	KSR.kx.fail(); // MARK:go_error
}

function go_panic() {
	KSR.kx.crash();
}

function runaway() {
	while (true) {}
}

function recurse() {
	return recurse() + 1; // MARK:recurse
}

function sandbox() {
	KSR.info([typeof require, typeof process, typeof module, typeof setTimeout, typeof fetch, typeof XMLHttpRequest].join(","));
}

function count_loads() {
	KSR.info("loads=" + loads);
}

var arrow_cb = () => KSR.info("arrow");
let let_cb = function () { KSR.info("let"); };
assigned_cb = function () { KSR.info("assigned"); };
var not_a_function = 42;

function empty() {}

function one_export() {
	KSR.maxfwd.process_maxfwd(10);
}

function many_exports() {
	for (var i = 0; i < 100; i++) {
		KSR.maxfwd.process_maxfwd(10);
		KSR.sl.sl_send_reply(404, "Not Found");
	}
}

// Promise jobs run after the callback body, outside goja's try levels.
function exit_in_job() {
	Promise.resolve().then(function () {
		KSR.x.exit();
		KSR.info("after exit in job");
	});
}

function type_names() {
	var got = [];
	var tries = [
		function () { KSR.sl.sl_send_reply(null, {}); },
		function () { KSR.sl.sl_send_reply(undefined, true); },
		function () { KSR.sl.sl_send_reply(function () {}, Symbol("s")); },
		function () { KSR.sl.sl_send_reply(10n, new String("boxed")); },
	];
	tries.forEach(function (f) {
		try { f(); } catch (e) { got.push(e.message); }
	});
	KSR.info(got.join("\n"));
}

// Nested callbacks (issue 10 item 6): kx.nest runs a callback with a new
// context inside this one, as t_relay runs a branch route.
function nest_outer() {
	KSR.info("outer " + KSR.kx.whoami());
	KSR.kx.nest("nest_mid");
	KSR.info("outer again " + KSR.kx.whoami());
	KSR.kx.nest("do_exit");
	KSR.kx.nest("thrown");
	KSR.info("outer last " + KSR.kx.whoami());
}

function nest_mid() {
	KSR.info("mid " + KSR.kx.whoami());
	KSR.kx.nest("nest_inner");
	KSR.info("mid again " + KSR.kx.whoami());
}

function nest_inner() {
	KSR.info("inner " + KSR.kx.whoami());
}

function nest_runaway() {
	KSR.kx.nest("runaway");
	KSR.info("outer went on after the budget ran out");
}

// KSR is read-only (issue 10 item 8): each of these throws a TypeError.
function assign_ksr() {
	var tries = [
		function () { KSR.sl = null; },
		function () { KSR.sl.sl_send_reply = null; },
		function () { KSR.info = function () {}; },
		function () { delete KSR.sl; },
		function () { delete KSR.sl.sl_send_reply; },
		function () { Object.defineProperty(KSR, "sl", { value: 1 }); },
		function () { KSR.newmodule = {}; },
	];
	var got = [];
	tries.forEach(function (f) {
		try { f(); got.push("no error"); } catch (e) { got.push(e.name + ": " + e.message); }
	});
	KSR.info(got.join("\n"));
	KSR.info("keys " + Object.keys(KSR.sl).join(","));
}

function assign_ksr_uncaught() {
	KSR.sl = null; // MARK:assign_ksr
}

// Memory bombs (issue 10 item 5): each stops with the memory budget error.
function bomb_repeat() { return "x".repeat(2 ** 31); } // MARK:bomb_repeat
function bomb_pad_start() { return "x".padStart(2 ** 30); }
function bomb_pad_end() { return "x".padEnd(2 ** 30, "ab"); }
function bomb_array() { return Array(1e9).length; }
function bomb_new_array() { return new Array(2 ** 31 - 1).length; }
function bomb_fill() { var a = []; a.length = 1e9; return a.fill(0).length; }
function bomb_sparse() { var a = []; a[1e9] = 1; a.forEach(function () {}); }
function bomb_join() { var a = []; a.length = 2e6; return a.join("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").length; }
function bomb_join_refs() { var s = "x".repeat(1 << 20); var a = []; for (var i = 0; i < 1000; i++) a.push(s); return a.join("").length; }
function bomb_array_like() { return Array.prototype.fill.call({ length: 1e9 }, 0); }
function bomb_from() { return Array.from({ length: 1e9 }).length; }
function bomb_apply() { var a = []; a.length = 1e9; return Math.max.apply(null, a); }
function bomb_typed() { return new Uint8Array(2 ** 31).length; }
function bomb_buffer() { return new ArrayBuffer(2 ** 31).byteLength; }
function bomb_replace() { var s = "x".repeat(1 << 20); return s.replaceAll("x", "y".repeat(1000)).length; }
function bomb_split() { return "x".repeat(1 << 24).split("").length; }
function bomb_concat() { var s = "x".repeat(1 << 20), a = []; for (var i = 0; i < 100; i++) a.push(s); return "".concat.apply("", a).length; }
// Growth by operators is only seen by the heap watch.
function bomb_doubling() { var s = "x"; for (var i = 0; i < 40; i++) s = s + s; return s.length; }
function bomb_doubling_array() { var a = [1]; for (var i = 0; i < 40; i++) a = a.concat(a.slice(0, 1 << 20)); return a.length; }
function bomb_caught() { try { "x".repeat(2 ** 31); } catch (e) { KSR.info("caught " + e); } KSR.info("went on"); }
// Ordinary use stays within the budget.
function within_budget() {
	var s = "ab".repeat(1000).padStart(3000, "-").padEnd(4000);
	var a = new Array(1000).fill(1).map(function (x, i) { return x + i; });
	var parts = s.split("b");
	KSR.info([s.length, a.length, a.join(",").length, parts.length, "a-b".replace("-", "+"), [1, 2].concat([3]).length,
		Math.max.apply(null, [1, 5, 2]), Array.from("abc").length, new Uint8Array(16).length, [3, 1, 2].sort().join(""),
		Array.isArray(new Array(3)), [] instanceof Array, [].constructor === Array, new Uint8Array(2) instanceof Uint8Array, Array(3).length, Array.of(1, 2).length, class extends Array {}.from([1]).length].join(" "));
}
function two_mib() { return "x".repeat(2 << 20).length; }
function nest_bomb() {
	KSR.kx.nest("bomb_repeat");
	KSR.info("outer went on after the memory budget ran out");
}
function bomb_spread() { var a = []; a.length = 1e8; return [...a].length; }
function bomb_spread_call() { var a = []; a.length = 1e8; return Math.max(...a); }
function bomb_set() { var a = []; a.length = 1e9; return new Set(a).size; }
function bomb_json_sparse() { var a = []; a.length = 1e8; return JSON.stringify(a).length; }
function bomb_json_refs() { var s = "x".repeat(1 << 20), a = []; for (var i = 0; i < 2000; i++) a.push(s); return JSON.stringify(a).length; }
function iterate_within_budget() {
	var [x, y] = [1, 2];
	var m = new Map([[1, 2]]);
	var n = 0;
	for (var v of [5, 6]) n += v;
	KSR.info(JSON.stringify({ a: [1, "x"], b: { c: null } }) + " " + [...[1, 2]].length + " " + (x + y) + " " + m.size + " " +
		Math.max(...[3, 4]) + " " + n + " " + [...[7, 8].entries()].length + " " + JSON.stringify([1, [2]], null, 1).length);
}
function bomb_flat() { var b = new Array(1 << 20).fill(0); return new Array(100).fill(b).flat().length; }
function bomb_match() { return "x".repeat(1 << 17).match(/x/g).length; }
function flat_match_within_budget() {
	KSR.info([[1, [2, [3, [4]]]].flat().length, [1, [2, [3, [4]]]].flat(Infinity).length, [[1], [2]].flat(0).length,
		"axbxc".match(/x/g).length, "abc".match(/b/)[0], "abc".match(/z/g)].join(" "));
}
