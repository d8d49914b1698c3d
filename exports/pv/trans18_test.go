package pv

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// TestTransformations_Issue18 covers issue 18's Kamailio transformations,
// with the results Kamailio's pv_trans.c and sqlops' sql_trans.c give.
func TestTransformations_Issue18(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	sets(ctx, "$var(abc)", "abc")
	sets(ctx, "$var(q)", `O'Brien "x" \ y`)
	sets(ctx, "$var(e)", "")
	sets(ctx, "$var(sp)", "a b@c/d:e;f=g")
	sets(ctx, "$var(num)", "+1 (555) 123-4567")
	sets(ctx, "$var(lines)", "first line\r\nVia: x\r\nthird\r\n")
	sets(ctx, "$var(quoted)", `"alice"`)
	sets(ctx, "$var(br)", "<sip:a@b>")
	sets(ctx, "$var(path)", "a/b/c")
	sets(ctx, "$var(n2)", "2")
	sets(ctx, "$var(em)", "alice@example.com")
	sets(ctx, "$var(b)", "\xfb\xff")
	sets(ctx, "$var(fold)", "To: a,\r\n  b")
	sets(ctx, "$var(ru)", "sip:bob@example.com:5070;transport=tcp;lr;maddr=10.0.0.1?subject=x")
	sets(ctx, "$var(pl)", "a=1;b=2;c;")
	sets(ctx, "$var(ws)", "a  b\tc")
	Seti(ctx, "$var(i)", 42)
	Seti(ctx, "$var(ts)", 0)
	for name, want := range map[string]any{
		// sql.*
		"$(var(abc){sql.val})":      "'abc'",
		"$(var(q){sql.val})":        `'O''Brien "x" \\ y'`,
		"$(var(e){sql.val})":        "''",
		"$(var(i){sql.val})":        "42",
		"$(var(i){sql.val.str})":    "42",
		"$(var(none){sql.val})":     "NULL",
		"$(var(none){sql.val.int})": "0",
		"$(var(none){sql.val.str})": "''",
		"$(var(abc){sql.val.int})":  "'abc'",
		"$(var(abc){SQL.VAL})":      "'abc'",
		// hashes, base64, hexa
		"$(var(abc){s.md5})":             "900150983cd24fb0d6963f7d28e17f72",
		"$(var(abc){s.sha1})":            "a9993e364706816aba3e25717850c26c9cd0d89d",
		"$(var(abc){s.sha256})":          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"$(var(abc){s.sha384}{s.len})":   int64(96),
		"$(var(abc){s.sha512}{s.len})":   int64(128),
		"$(var(abc){s.corehash})":        "7167810",
		"$(var(em){s.corehash})":         "2920418261",
		"$(var(em){s.corehash,16})":      "5",
		"$(var(lines){s.rm,\\r\\n})":     "first lineVia: xthird",
		"$(var(abc){s.sha3})":            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
		"$(var(abc){s.sha3,512}{s.len})": int64(128),
		"$(var(b){s.encode.base64url})":  "-_8=",
		"$(var(b){s.encode.base64urlt})": "-_8",
		"$(var(b){s.encode.base64urlt}{s.decode.base64urlt}{s.encode.hexa})": "fbff",
		"$(var(fold){s.rmhdws})":                               "To: a, b",
		"$(var(fold){s.rmhlws})":                               "To: a,b",
		"$(var(ru){uri.suri})":                                 "sip:bob@example.com:5070;transport=tcp",
		"$(var(ru){uri.saor})":                                 "sip:bob@example.com",
		"$(var(ru){uri.duri})":                                 "sip:example.com:5070;transport=tcp",
		"$(var(ru){uri.rmparam,LR})":                           "sip:bob@example.com:5070;transport=tcp;maddr=10.0.0.1?subject=x",
		"$(var(ru){uri.maddr})":                                "10.0.0.1",
		"$(var(ru){uri.lr})":                                   "",
		"$(var(ru){uri.ttl})":                                  "",
		"$(var(pl){param.in,b})":                               int64(1),
		"$(var(pl){param.in,z})":                               int64(0),
		"$(var(pl){param.valueat,1})":                          "2",
		"$(var(pl){param.valueat,-1})":                         "",
		"$(var(pl){param.name,-1})":                            "c",
		"$(var(pl){param.name,7})":                             "",
		"$(var(n2){s.intv})":                                   int64(2),
		"$(var(i){s.intv})":                                    int64(42),
		"$(var(ws){s.selectsw,0})":                             "a",
		"$(var(ws){s.selectsw,1})":                             "",
		"$(var(ws){s.selectsw,2})":                             "b",
		"$(var(ws){s.selectsw,-1})":                            "c",
		"$(var(ws){s.selectsw,9})":                             "",
		"$(var(abc){s.crc32})":                                 int64(0x352441c2),
		"$(var(abc){s.encode.base64})":                         "YWJj",
		"$(var(path){s.encode.base64})":                        "YS9iL2M=",
		"$(var(path){s.encode.base64t})":                       "YS9iL2M",
		"$(var(path){s.encode.base64t}{s.decode.base64t})":     "a/b/c",
		"$(var(path){s.encode.base64}{s.decode.base64})":       "a/b/c",
		"$(var(abc){s.encode.hexa})":                           "616263",
		"$(var(abc){s.encode.hexa}{s.toupper}{s.decode.hexa})": "abc",
		// escapes
		"$(var(q){s.escape.common})":                       `O\'Brien \"x\" \\ y`,
		"$(var(q){s.escape.common}{s.unescape.common})":    `O'Brien "x" \ y`,
		"$(var(lines){s.escape.crlf})":                     `first line\r\nVia: x\r\nthird\r\n`,
		"$(var(lines){s.escape.crlf}{s.unescape.crlf})":    "first line\r\nVia: x\r\nthird\r\n",
		"$(var(sp){s.escape.user})":                        "a%20b%40c%2fd%3ae;f=g",
		"$(var(sp){s.escape.param})":                       "a%20b%40c/d:e%3bf%3dg",
		"$(var(sp){s.escape.user}{s.unescape.user})":       "a b@c/d:e;f=g",
		"$(var(sp){s.escape.param}{s.unescape.param})":     "a b@c/d:e;f=g",
		"$(var(q){s.escape.csv})":                          `"O'Brien ""x"" \ y"`,
		"$(var(sp){s.urlencode.param})":                    "a%20b%40c%2fd%3ae%3bf%3dg",
		"$(var(sp){s.urlencode.param}{s.urldecode.param})": "a b@c/d:e;f=g",
		// the rest
		"$(var(num){s.numeric})":         "15551234567",
		"$(var(num){s.rmws})":            "+1(555)123-4567",
		"$(var(abc){s.prefixes})":        "a,ab,abc",
		"$(var(abc){s.prefixes,2})":      "a,ab",
		"$(var(abc){s.prefixes.quoted})": "'a','ab','abc'",
		"$(var(path){s.replace,/,.})":    "a.b.c",
		"$(var(path){s.rm,/})":           "abc",
		"$(var(path){s.count,/})":        int64(2),
		"$(var(path){s.strip,2})":        "b/c",
		"$(var(path){s.strip,$var(n2)})": "b/c",
		"$(var(path){s.strip,9})":        "",
		"$(var(path){s.striptail,2})":    "a/b",
		"$(var(path){s.stripto,/})":      "/b/c",
		"$(var(path){s.before,/})":       "a",
		"$(var(path){s.after,/})":        "b/c",
		"$(var(path){s.rbefore,/})":      "a/b",
		"$(var(path){s.rafter,/})":       "c",
		"$(var(abc){s.before,/})":        "abc",
		"$(var(abc){s.after,/})":         "",
		"$(var(quoted){s.unquote})":      "alice",
		"$(var(abc){s.unquote})":         "abc",
		"$(var(br){s.unbracket})":        "sip:a@b",
		"$(var(abc){s.charat,1})":        "b",
		"$(var(abc){s.byteat,1})":        int64('b'),
		"$(var(abc){s.byteat,7})":        int64(-1),
		"$(var(ts){s.ftime,%s %%})":      "0 %",
		"$(var(lines){line.count})":      int64(3),
		"$(var(lines){line.at,1})":       "Via: x",
		"$(var(lines){line.at,-1})":      "third",
		"$(var(lines){line.at,0})":       "first line",
		"$(var(lines){line.at,5})":       "",
		"$(var(lines){line.sw,Via:})":    "Via: x",
		"$(var(lines){line.sw,X-})":      "",
	} {
		v := Get(ctx, name)
		switch w := want.(type) {
		case string:
			if v.Kind != core.KStr || v.S != w {
				t.Errorf("%s = %q (%v), want %q", name, v.String(), v.Kind, w)
			}
		case int64:
			if v.Kind != core.KInt || v.I != w {
				t.Errorf("%s = %v (%v), want %d", name, v, v.Kind, w)
			}
		}
	}
	for _, name := range []string{
		"$(var(abc){s.decode.base64})x",       // not a transformation form: an error
		"$(var(q){s.decode.hexa})",            // not hex
		"$(var(sp){s.decode.base64})",         // not base64
		"$(var(none){s.md5})",                 // null stays null
		"$(var(q){s.decode.base64}{sql.val})", // a failed transformation ends the chain
		"$(var(e){line.count})",               // Kamailio fails line.* on ""
		"$(var(e){s.escape.crlf})",
		"$(var(q){s.escape.user})x",
		"$(var(abc){s.strip})",         // missing argument
		"$(var(abc){s.strip,x})",       // not a number
		"$(var(abc){s.fill.left,0,9})", // not Kamailio's
	} {
		if !IsNull(ctx, name) {
			t.Errorf("%s = %v, want null", name, Get(ctx, name))
		}
	}
	// escape.user fails on a byte outside printable ASCII; unescape.user
	// on a cut or bad escape.
	sets(ctx, "$var(bin)", "a\x01b")
	sets(ctx, "$var(cut)", "a%4")
	sets(ctx, "$var(ctl)", "a%0ab")
	for _, name := range []string{"$(var(bin){s.escape.user})", "$(var(cut){s.unescape.user})", "$(var(ctl){s.unescape.param})"} {
		if !IsNull(ctx, name) {
			t.Errorf("%s = %v, want null", name, Get(ctx, name))
		}
	}
	// s.ftime formats local time as Kamailio's strftime.
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local).Unix()
	Seti(ctx, "$var(ts)", int(ts))
	if v := Get(ctx, "$(var(ts){s.ftime,%Y-%m-%d %H:%M:%S %j %a %b})"); v.S != "2026-03-04 05:06:07 063 Wed Mar" {
		t.Errorf("s.ftime = %q", v.S)
	}
}

// TestTransformations_SQLValInjection covers issue 18 item 1: whatever a
// value holds, sql.val gives one quoted literal that no quote or
// backslash in it can end early, read back as the value by MySQL and by
// PostgreSQL with standard_conforming_strings off (and, for quotes, on).
func TestTransformations_SQLValInjection(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	for _, val := range []string{
		"' OR '1'='1",
		`\' OR 1=1 --`,
		`x\`,
		`x\\'; DROP TABLE subscriber; --`,
		"a\x00b",
		`"; --`,
		strings.Repeat(`\'`, 100),
	} {
		sets(ctx, "$var(x)", val)
		got := Get(ctx, "$(var(x){sql.val})").S
		if got == "" || got[0] != '\'' || got[len(got)-1] != '\'' {
			t.Fatalf("sql.val(%q) = %q, not one quoted literal", val, got)
		}
		// Read the literal as MySQL does (backslash escapes, '' a
		// quote): it must end exactly at the last byte and give val.
		if back, end := readMySQLLiteral(got); end != len(got) || back != val {
			t.Errorf("sql.val(%q) = %q: MySQL reads %q ending at %d of %d", val, got, back, end, len(got))
		}
		// As standard-conforming PostgreSQL (backslash literal, '' a
		// quote): it must still end at the last byte.
		if _, end := readStdLiteral(got); end != len(got) {
			t.Errorf("sql.val(%q) = %q: a standard SQL reader ends the literal at %d of %d", val, got, end, len(got))
		}
	}
}

func readMySQLLiteral(s string) (string, int) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if s[i] == '0' {
				b.WriteByte(0)
			} else {
				b.WriteByte(s[i])
			}
		case '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), -1
}

func readStdLiteral(s string) (string, int) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), i + 1
		}
		b.WriteByte(s[i])
	}
	return b.String(), -1
}

// TestTransformations_Bounds covers issue 18 item 3: a value from the
// network cannot make a transformation's result pass Kamailio's 64 KiB
// bound, nor take quadratic time (s.prefixes fails past ~360 bytes).
func TestTransformations_Bounds(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	big := strings.Repeat("'", 40000)
	sets(ctx, "$var(big)", big)
	sets(ctx, "$var(long)", strings.Repeat("1", 400))
	sets(ctx, "$var(ok)", strings.Repeat("1", 300))
	for _, name := range []string{
		"$(var(big){sql.val})",         // 80002 bytes
		"$(var(big){s.escape.common})", // 80000
		"$(var(big){s.encode.hexa})",   // 80000
		"$(var(big){s.escape.user})",   // 120000
		"$(var(big){s.urlencode.param})",
		"$(var(big){s.escape.csv})",
		"$(var(big){s.replace,',''''})", // 160000
		"$(var(long){s.prefixes})",      // 400*201 bytes
		"$(var(long){s.prefixes.quoted})",
	} {
		start := time.Now()
		if !IsNull(ctx, name) {
			t.Errorf("%s: %d bytes, want null past the 64 KiB bound", name, len(Get(ctx, name).S))
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s took %v", name, d)
		}
	}
	if v := Get(ctx, "$(var(ok){s.prefixes})"); len(v.S) != 300*301/2+299 {
		t.Errorf("s.prefixes of 300 bytes: %d bytes", len(v.S))
	}
	// One escape that fits still works.
	sets(ctx, "$var(mid)", strings.Repeat("'", 30000))
	if v := Get(ctx, "$(var(mid){sql.val})"); len(v.S) != 60002 {
		t.Errorf("sql.val of 30000 quotes: %d bytes", len(v.S))
	}
}

// TestTransformations_NoAllocRegression: issue 18 keeps the allocations
// of the transformations that were there before.
func TestTransformations_NoAllocRegression(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	sets(ctx, "$var(x)", "abc")
	for _, c := range []struct {
		name string
		max  float64
	}{{"$(var(x){s.len})", 0}, {"$(fu{uri.user})", 3}, {"$(fu{uri.user}{s.toupper})", 4}} {
		if n := testing.AllocsPerRun(100, func() { Get(ctx, c.name) }); n > c.max {
			t.Errorf("get(%q): %v allocations, want at most %v", c.name, n, c.max)
		}
	}
}

// TestTransformations_HostileInputNoPanic: every transformation, with
// odd arguments, on values a message could carry (empty, binary, cut
// escapes, lone separators, long), gives a value or null and never
// panics (issue 18 item 3).
func TestTransformations_HostileInputNoPanic(t *testing.T) {
	ctx := ctxFor(t, ksrtest.Invite())
	vals := []string{"", "%", "%4", "%zz", "\\", "'", "\n", "\r\n", "\n\n", "a\x00\xff", "====", "=", "abc\n", strings.Repeat("\xff%\\'\n", 3000)}
	argSets := [][]string{nil, {"0"}, {"-1"}, {"99999999"}, {""}, {"\\"}, {"x", ""}, {"-5", "-5"}, {"", ""}, {"%"}}
	Seti(ctx, "$var(int)", -7)
	nonNull := 0
	for key, ar := range transArgs {
		for _, args := range argSets {
			if len(args) < ar.min || len(args) > ar.max {
				continue
			}
			tr := "{" + key
			for _, a := range args {
				tr += "," + a
			}
			tr += "}"
			for i, v := range vals {
				sets(ctx, "$var(v)", v)
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s on value %d panics: %v", tr, i, r)
						}
					}()
					if !IsNull(ctx, "$(var(v)"+tr+")") {
						nonNull++
					}
					Get(ctx, "$(var(int)"+tr+")")
				}()
			}
		}
	}
	if nonNull < 500 {
		t.Errorf("only %d results were not null: the transformations did not run", nonNull)
	}
	t.Logf("%d results not null", nonNull)
}

// FuzzTransformations (issue 18 item 3): any value through any
// transformation with any argument gives a value or null, within the
// 64 KiB bound, and never panics.
func FuzzTransformations(f *testing.F) {
	f.Add("s.prefixes", "", "' OR '1'='1")
	f.Add("sql.val", "", `\' OR 1=1 --`)
	f.Add("s.unescape.user", "", "%4")
	f.Add("line.at", "-3", "a\r\nb\n\nc")
	f.Add("s.replace", "a", strings.Repeat("a", 100))
	f.Add("uri.rmparam", "lr", "sip:a@b;lr?x=y")
	keys := make([]string, 0, len(transArgs))
	for k := range transArgs {
		keys = append(keys, k)
	}
	f.Fuzz(func(t *testing.T, key, arg, val string) {
		if strings.ContainsAny(arg, "{}") {
			return
		}
		if _, ok := transArgs[key]; !ok {
			key = keys[len(key)%len(keys)]
		}
		ctx := ctxFor(t, ksrtest.Invite())
		sets(ctx, "$var(v)", val)
		for _, args := range []string{"", "," + arg, "," + arg + "," + arg} {
			v := Get(ctx, "$(var(v){"+key+args+"})")
			if len(v.S) > maxTransOut {
				t.Fatalf("{%s%s} on %d bytes: %d bytes", key, args, len(val), len(v.S))
			}
		}
	})
}
