package regex

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// started returns a context whose runtime has the regex module started
// with the given params.
func started(t testing.TB, params map[string]core.Value) (*core.Ctx, *bytes.Buffer, error) {
	t.Helper()
	c := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder(), core.Known("regex"))
	var log bytes.Buffer
	c.RT.Log = &core.Logger{Level: core.LDbg, Out: &log}
	c.RT.Params = map[string]map[string][]core.Value{"regex": {}}
	for k, v := range params {
		c.RT.Params["regex"][k] = []core.Value{v}
	}
	return c, &log, c.RT.Start()
}

func writeFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "groups.txt")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegex_PcreMatch(t *testing.T) {
	c, log, err := started(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		subj, re string
		want     int
	}{
		{"friendly-scanner", "^(friendly|sipvicious)", 1},
		{"Friendly-scanner", "^(friendly|sipvicious)", -1},
		{"Friendly-scanner", "(?i)^friendly", 1},
		{"abc", "b", 1},
		{"abc", "(unclosed", -4},
		{"aaa", `(a)\1`, -4}, // backreference: PCRE only
		{"ab", `a(?=b)`, -4}, // lookahead: PCRE only
		{"x", "a{1001}", -4}, // repetition past RE2's bound
	} {
		if got := PcreMatch(c, tc.subj, tc.re); got != tc.want {
			t.Errorf("pcre_match(%q, %q) = %d, want %d", tc.subj, tc.re, got, tc.want)
		}
	}
	if !strings.Contains(log.String(), "KSR.regex.pcre_match: error parsing regexp") {
		t.Errorf("a bad expression was not logged: %s", log)
	}
}

func TestRegex_Flags(t *testing.T) {
	c, _, err := started(t, map[string]core.Value{"pcre_caseless": core.Int(1), "pcre_dotall": core.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := PcreMatch(c, "FRIENDLY\nscanner", "^friendly.scanner$"); got != 1 {
		t.Errorf("with pcre_caseless and pcre_dotall: %d, want 1", got)
	}
	if _, _, err := started(t, map[string]core.Value{"pcre_extended": core.Int(1)}); err == nil ||
		!strings.Contains(err.Error(), `modparam("regex", "pcre_extended")`) {
		t.Errorf("pcre_extended=1: err %v, want an error naming the param", err)
	}
}

func TestRegex_CatastrophicIsLinear(t *testing.T) {
	c, _, err := started(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	subj := strings.Repeat("a", 1<<16) + "!"
	begin := time.Now()
	if got := PcreMatch(c, subj, "^(a+)+$"); got != -1 {
		t.Errorf("(a+)+$ on a's and '!' = %d, want -1", got)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("a catastrophic expression took %v", d)
	}
}

func TestRegex_Groups(t *testing.T) {
	p := writeFile(t, "# premium and blocked numbers\n"+
		"[0]\n"+
		"^0900\n"+
		"^0137\r\n"+
		"\n"+
		" indented lines are comments too\n"+
		"[1]\n"+
		"[whatever]\n"+
		"^sip:.*@blocked\\.example$")
	c, _, err := started(t, map[string]core.Value{"file": core.Str(p)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		subj  string
		group int
		want  int
	}{
		{"09001234", 0, 1},
		{"01371234", 0, 1},
		{"0301234", 0, -1},
		{"", 1, 1}, // an empty group is ^$, as in Kamailio
		{"x", 1, -1},
		{"sip:bob@blocked.example", 2, 1},
		{"sip:bob@blocked.example.com", 2, -1},
		{"x", 3, -4},
		{"x", -1, -4},
	} {
		if got := PcreMatchGroup(c, tc.subj, tc.group); got != tc.want {
			t.Errorf("pcre_match_group(%q, %d) = %d, want %d", tc.subj, tc.group, got, tc.want)
		}
	}
}

func TestRegex_GroupsDisabled(t *testing.T) {
	c, log, err := started(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := PcreMatchGroup(c, "x", 0); got != -2 {
		t.Errorf("without a file: %d, want -2", got)
	}
	if !strings.Contains(log.String(), "group matching is disabled") {
		t.Errorf("log: %s", log)
	}
}

func TestRegex_BadGroupFiles(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"^abc\n[0]\n", ":1: expected a group opener such as [0] before the first expression"},
		{"[0]\nok\n(bad\n", ":3: group 0: error parsing regexp"},
		{"[0]\n[1]\n[2]\n", ":3: group 2: more groups than max_groups (2)"},
		{"[0]\n" + strings.Repeat("x", 600) + "\n", ":2: line"},
		{"# nothing\n", "no expression groups"},
		{"[0]\n" + strings.Repeat(strings.Repeat("y", 400)+"\n", 30), "longer than group_max_size"},
	} {
		p := writeFile(t, tc.body)
		_, _, err := started(t, map[string]core.Value{"file": core.Str(p), "max_groups": core.Int(2)})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "groups.txt") {
			t.Errorf("file %.40q: err %v, want one with %q and the file name", tc.body, err, tc.want)
		}
	}
	_, _, err := started(t, map[string]core.Value{"file": core.Str("/nonexistent/groups.txt")})
	if err == nil || !strings.Contains(err.Error(), `modparam("regex", "file")`) {
		t.Errorf("missing file: %v", err)
	}
}

func TestRegex_CachedMatchDoesNotAllocate(t *testing.T) {
	c, _, err := started(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	PcreMatch(c, "friendly-scanner", "^friendly")
	if n := testing.AllocsPerRun(100, func() { PcreMatch(c, "friendly-scanner", "^friendly") }); n != 0 {
		t.Errorf("a cached pcre_match allocates %v times", n)
	}
}

func FuzzParseGroups(f *testing.F) {
	f.Add("[0]\n^0900\n^0137\n[1]\n")
	f.Add("# c\n[0]\r\n(a|b)+\r\n")
	f.Add("x\n")
	f.Add("[0]\n(\n")
	f.Fuzz(func(t *testing.T, body string) {
		groups, err := ParseGroups(strings.NewReader(body), "fuzz", "", Limits{MaxGroups: 4, GroupMaxSize: 1024})
		if err == nil && len(groups) == 0 {
			t.Fatal("no error and no groups")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func BenchmarkPcreMatch(b *testing.B) {
	c, _, err := started(b, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		PcreMatch(c, "friendly-scanner/1.0", "^(friendly|sipvicious|sipcli)")
	}
}
