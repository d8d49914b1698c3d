// The memory checks kemi puts in front of the ECMAScript builtins that can
// make a huge value in one native step, which goja's Interrupt cannot stop
// (see limits.go). Run once per runtime, before the script; its frames are
// left out of error positions. limit(what, n, unit) stops the message with
// the memory budget error.
(function (limit, maxChars, maxElems) {
	"use strict";
	var apply = Reflect.apply, construct = Reflect.construct;
	var isArray = Array.isArray, defineProperty = Object.defineProperty;
	var test = RegExp.prototype.test;

	// size is ToLength(o.length), as the Array methods read it.
	function size(o) {
		if (o === null || o === undefined || (typeof o !== "object" && typeof o !== "function" && typeof o !== "string")) {
			return 0;
		}
		var n = +o.length;
		return n > 0 ? n : 0;
	}
	function strlen(s) {
		return typeof s === "string" ? s.length : 0;
	}
	function selfString(s) {
		return typeof s === "string" ? s : (s === null || s === undefined ? "" : String(s));
	}
	function wrap(obj, name, check) {
		var orig = obj[name];
		if (typeof orig !== "function") {
			return;
		}
		var f = ({ [name]: function () { check(this, arguments, name); return apply(orig, this, arguments); } })[name];
		defineProperty(obj, name, { value: f, writable: true, configurable: true, enumerable: false });
	}
	function chars(what, n) {
		if (n > maxChars) {
			limit(what, n, "characters");
		}
	}
	function elems(what, n) {
		if (n > maxElems) {
			limit(what, n, "elements");
		}
	}
	// count is how often pat occurs in s, up to stop.
	function count(s, pat, stop) {
		var n = 0;
		if (typeof pat === "string") {
			if (pat === "") {
				return s.length + 1;
			}
			for (var i = s.indexOf(pat); i >= 0 && n < stop; i = s.indexOf(pat, i + pat.length)) {
				n++;
			}
			return n;
		}
		if (pat instanceof RegExp) {
			if (!pat.global) {
				return 1;
			}
			// test, unlike exec, makes no match arrays.
			var re = new RegExp(pat.source, pat.flags), at = 0;
			while (n < stop && apply(test, re, [s])) {
				n++;
				if (re.lastIndex === at) {
					re.lastIndex++; // an empty match
				}
				at = re.lastIndex;
			}
			return n;
		}
		return 1;
	}

	var S = String.prototype;
	wrap(S, "repeat", function (self, a) {
		var n = +a[0];
		if (n > 0) {
			chars("String.prototype.repeat", selfString(self).length * n);
		}
	});
	wrap(S, "padStart", function (self, a) { chars("String.prototype.padStart", +a[0]); });
	wrap(S, "padEnd", function (self, a) { chars("String.prototype.padEnd", +a[0]); });
	wrap(S, "concat", function (self, a) {
		var n = selfString(self).length;
		for (var i = 0; i < a.length; i++) {
			n += strlen(a[i]);
		}
		chars("String.prototype.concat", n);
	});
	function replaceCheck(self, a, name) {
		var s = selfString(self), rep = a[1];
		if (typeof rep !== "string") {
			return; // a function's results are made by script code, which the heap check watches
		}
		var dollars = rep.split("$").length - 1;
		var bound = s.length + (s.length + 1) * rep.length + dollars * s.length;
		if (bound <= maxChars) {
			return;
		}
		var n = name === "replace" && !(a[0] instanceof RegExp && a[0].global) ? 1 : count(s, a[0], Math.ceil(maxChars / rep.length) + 1);
		chars("String.prototype." + name, s.length + n * rep.length + dollars * s.length);
	}
	wrap(S, "replace", replaceCheck);
	wrap(S, "replaceAll", replaceCheck);
	wrap(S, "split", function (self, a) {
		var s = selfString(self), sep = a[0];
		if (s.length + 1 <= maxElems || sep === undefined) {
			return;
		}
		var lim = a[1] === undefined ? Infinity : a[1] >>> 0;
		if (lim <= maxElems) {
			return;
		}
		elems("String.prototype.split", sep === "" ? s.length : count(s, sep, maxElems) + 1);
	});

	wrap(S, "match", function (self, a) {
		var s = selfString(self), re = a[0];
		if (re instanceof RegExp && re.global && s.length + 1 > maxElems) {
			elems("String.prototype.match", count(s, re, maxElems + 1));
		}
	});

	// Every Array.prototype method that walks length in native code: a
	// sparse array or an array-like with a huge length would run it for
	// minutes or fill memory, out of the time budget's reach.
	var A = Array.prototype;
	["copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex",
		"flatMap", "forEach", "includes", "indexOf", "lastIndexOf", "map", "pop", "reduce",
		"reduceRight", "reverse", "shift", "slice", "some", "sort", "splice", "toLocaleString",
		"toReversed", "toSorted", "toSpliced", "with"].forEach(function (name) {
		wrap(A, name, function (self) { elems("Array.prototype." + name, size(self)); });
	});
	// flat copies the elements of nested arrays: count them first.
	wrap(A, "flat", function (self, a) {
		var depth = a[0] === undefined ? 1 : Math.floor(+a[0]) || 0;
		var n = 0;
		function walk(arr, d) {
			var len = size(arr);
			elems("Array.prototype.flat", n + len);
			for (var i = 0; i < len && n <= maxElems; i++) {
				var x = arr[i];
				if (d > 1 && isArray(x)) {
					walk(x, d - 1);
				} else {
					n += d > 0 && isArray(x) ? size(x) : 1;
				}
			}
		}
		walk(self, depth);
		elems("Array.prototype.flat", n);
	});
	wrap(A, "push", function (self, a) { elems("Array.prototype.push", size(self) + a.length); });
	wrap(A, "unshift", function (self, a) { elems("Array.prototype.unshift", size(self) + a.length); });
	wrap(A, "concat", function (self, a) {
		var n = isArray(self) ? size(self) : 1;
		for (var i = 0; i < a.length; i++) {
			n += isArray(a[i]) ? size(a[i]) : 1;
		}
		elems("Array.prototype.concat", n);
	});
	wrap(A, "join", function (self, a) {
		var n = size(self);
		elems("Array.prototype.join", n);
		var sep = a[0] === undefined ? 1 : String(a[0]).length;
		var total = n > 0 ? (n - 1) * sep : 0;
		for (var i = 0; i < n && total <= maxChars; i++) {
			var x = self[i];
			total += typeof x === "string" ? x.length : (x === null || x === undefined ? 0 : String(x).length);
		}
		chars("Array.prototype.join", total);
	});
	// toString calls this.join, checked above.

	// Spread ([...a], f(...a)), new Set(a), new Map(a) and destructuring
	// walk the array iterator in native code: check the length when the
	// iterator is made. Symbol.iterator is values itself.
	["values", "keys", "entries"].forEach(function (name) {
		wrap(A, name, function (self) { elems("Array.prototype." + name, size(self)); });
	});
	defineProperty(A, Symbol.iterator, { value: A.values, writable: true, enumerable: false, configurable: true });

	// JSON.stringify walks its value natively: estimate the text first.
	wrap(JSON, "stringify", function (self, a) {
		var total = 0, seen = 0;
		function walk(v, depth) {
			if (total > maxChars || depth > 64) {
				return;
			}
			if (typeof v === "string") {
				total += v.length + 2;
			} else if (v !== null && typeof v === "object") {
				if (++seen > maxElems) {
					total = Infinity;
					return;
				}
				if (isArray(v)) {
					var n = size(v);
					elems("JSON.stringify", n);
					for (var i = 0; i < n && total <= maxChars; i++) {
						total += 1;
						walk(v[i], depth + 1);
					}
				} else {
					var keys = Object.keys(v);
					for (var j = 0; j < keys.length && total <= maxChars; j++) {
						total += keys[j].length + 4;
						walk(v[keys[j]], depth + 1);
					}
				}
			} else {
				total += 8;
			}
		}
		walk(a[0], 0);
		chars("JSON.stringify", total);
	});

	wrap(Array, "from", function (self, a) { elems("Array.from", size(a[0])); });
	wrap(Function.prototype, "apply", function (self, a) { elems("Function.prototype.apply", size(a[1])); });
	wrap(Reflect, "apply", function (self, a) { elems("Reflect.apply", size(a[2])); });
	wrap(Reflect, "construct", function (self, a) { elems("Reflect.construct", size(a[1])); });

	// Constructors that allocate their length up front. Each is replaced
	// by a function that checks, then constructs the original with the
	// same new.target; it keeps the original's prototype and statics, so
	// instanceof, subclassing and .constructor work as before. (A Proxy
	// would be shorter, but goja refuses it on the right of instanceof.)
	var getProto = Object.getPrototypeOf, setProto = Object.setPrototypeOf;
	var ownNames = Object.getOwnPropertyNames, ownSymbols = Object.getOwnPropertySymbols;
	var ownDesc = Object.getOwnPropertyDescriptor;
	function guardCtor(name, check) {
		var orig = globalThis[name];
		if (typeof orig !== "function") {
			return;
		}
		var f = ({ [name]: function () { check(arguments); return construct(orig, arguments, new.target || orig); } })[name];
		setProto(f, getProto(orig));
		ownNames(orig).concat(ownSymbols(orig)).forEach(function (k) {
			if (k !== "length" && k !== "name" && k !== "prototype") {
				defineProperty(f, k, ownDesc(orig, k));
			}
		});
		defineProperty(f, "prototype", { value: orig.prototype, writable: false, enumerable: false, configurable: false });
		defineProperty(orig.prototype, "constructor", { value: f, writable: true, enumerable: false, configurable: true });
		defineProperty(globalThis, name, { value: f, writable: true, enumerable: false, configurable: true });
	}
	guardCtor("Array", function (args) {
		if (args.length === 1 && typeof args[0] === "number") {
			elems("Array", args[0]);
		}
	});
	guardCtor("ArrayBuffer", function (args) {
		if (+args[0] > maxChars) {
			limit("ArrayBuffer", +args[0], "bytes");
		}
	});
	["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
		"Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"].forEach(function (name) {
		var bpe = globalThis[name] ? globalThis[name].BYTES_PER_ELEMENT : 1;
		guardCtor(name, function (args) {
			var n = typeof args[0] === "number" ? args[0] : (args[0] instanceof ArrayBuffer ? 0 : size(args[0]));
			if (n * bpe > maxChars) {
				limit(name, n * bpe, "bytes");
			}
		});
	});
})
