package lua

import (
	"errors"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// kemi's string.find, match, gmatch and gsub give what Lua 5.1 gives:
// testdata/patterns.golden is Lua 5.1's own output for
// testdata/patterns.lua (some 15,000 results: every pattern feature, the
// malformed patterns' errors, the init and plain arguments, gsub's
// replacement forms).
func TestLuaPatterns_MatchLua51(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "patterns.lua", readTestdata(t, "patterns.lua")+okRoute)
	want := readTestdata(t, "patterns.golden")
	vm.budget.reset(vm.steps, vm.mem)
	L := vm.L
	L.Push(L.GetGlobal("results"))
	if err := L.PCall(0, 1, nil); err != nil {
		t.Fatal(err)
	}
	got := L.Get(-1).String()
	L.Pop(1)
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	bad := 0
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			// The case's header line is the nearest line not indented.
			h := i
			for h > 0 && strings.HasPrefix(wl[h], "  ") {
				h--
			}
			t.Errorf("line %d (%s):\n got %s\nwant %s", i+1, wl[h], gl[i], wl[i])
			if bad++; bad > 20 {
				t.Fatal("too many differences")
			}
		}
	}
	if len(gl) != len(wl) {
		t.Errorf("%d lines, want %d", len(gl), len(wl))
	}
}

// docs/lua-sandbox.md's "not covered": a pattern that backtracks over a
// long subject ran inside one instruction, for minutes. The matcher now
// counts its steps against the step budget: each bomb ends with the
// budget's error in about the time a runaway loop takes, and the VM serves
// the next message.
func TestLuaPatterns_BacktrackingStoppedByStepBudget(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "backtrack.lua", okRoute+`
local s = string.rep("a", 9e5)
function find_lazy() string.find(s, ".-b") end
function find_greedy() string.find(s, "a*b") end
function match_captures() string.match(s, "(a*)(a*)b") end
function gmatch_lazy() for x in string.gmatch(s, "(.-)b") do end end
function gsub_lazy() string.gsub(s, ".-b", "") end
function balance() string.find(string.rep("(", 9e5), "%b()") end
function caught() local ok = pcall(string.find, s, ".-b") KSR.sl.sl_send_reply(200, "went on") end
`)
	for _, cb := range []string{"find_lazy", "find_greedy", "match_captures", "gmatch_lazy", "gsub_lazy", "balance", "caught"} {
		t.Run(cb, func(t *testing.T) {
			e.f.Replies = nil
			start := time.Now()
			err := vm.Call(e.ctx(), cb)
			took := time.Since(start)
			if !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "in a pattern match") && cb != "caught" {
				t.Fatalf("error = %v, want the step budget in a pattern match", err)
			}
			t.Logf("%v in %v", err, took)
			if took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			if len(e.f.Replies) != 0 {
				t.Errorf("the message went on past the budget: %v", e.f.Replies)
			}
			expectServed(t, e, vm)
		})
	}
}

// Deep pattern recursion is refused as Lua 5.2 and later do, not left to
// grow the goroutine's stack.
func TestLuaPatterns_TooComplex(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "deep.lua", okRoute+`
function deep()
	local ok, err = pcall(string.find, string.rep("a", 1000), string.rep("a?", 1000) .. "b")
	KSR.sl.sl_send_reply(200, tostring(err))
end
`)
	if err := vm.Call(e.ctx(), "deep"); err != nil {
		t.Fatal(err)
	}
	if r := lastReason(t, e); !strings.Contains(r, "pattern too complex") {
		t.Errorf("got %q", r)
	}
}
