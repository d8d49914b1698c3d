// Package regex implements module regex: pcre_match and pcre_match_group
// over Go's regexp (RE2), whose matching is linear in the input. The
// expressions of pcre_match are compiled once through internal/recache;
// the groups of pcre_match_group are read from the file modparam when the
// config loads (groups.go).
package regex

import (
	"fmt"
	"regexp"
	"strconv"

	"kemi/core"
	"kemi/internal/recache"
)

// state is the module's per-runtime state.
type state struct {
	cache  *recache.Cache
	groups []*regexp.Regexp // nil when no file is set
	file   string
}

// states is each runtime's state, set by start (nil when not started).
var states = core.NewRuntimeState[state](nil)

// flags turns the pcre_* params into an RE2 flag prefix.
func flags(rt *core.Runtime) (string, error) {
	if rt.Param("regex", "pcre_extended").I != 0 {
		return "", fmt.Errorf(`modparam("regex", "pcre_extended"): Go's regexp (RE2) has no extended mode; ` +
			`set it to 0 and write the expressions without comments and insignificant spaces`)
	}
	f := ""
	if rt.Param("regex", "pcre_caseless").I != 0 {
		f += "i"
	}
	if rt.Param("regex", "pcre_multiline").I != 0 {
		f += "m"
	}
	if rt.Param("regex", "pcre_dotall").I != 0 {
		f += "s"
	}
	if f == "" {
		return "", nil
	}
	return "(?" + f + ")", nil
}

func start(rt *core.Runtime) error {
	fl, err := flags(rt)
	if err != nil {
		return err
	}
	st := &state{cache: recache.New(fl)}
	if v := rt.Param("regex", "file"); v.Kind == core.KStr && v.S != "" {
		lim := Limits{MaxGroups: int(rt.Param("regex", "max_groups").I), GroupMaxSize: int(rt.Param("regex", "group_max_size").I)}
		groups, err := LoadGroups(v.S, fl, lim)
		if err != nil {
			return err
		}
		st.groups, st.file = groups, v.S
	} else if rt.Log != nil {
		rt.Log.Log(core.LNotice, nil, "regex: 'file' parameter is not set, group matching disabled\n")
	}
	states.Set(rt, st)
	return nil
}

// stateOf is the runtime's state; reading it takes no lock.
func stateOf(ctx *core.Ctx) *state { return states.Peek(ctx.RT) }

// PcreMatch is KSR.regex.pcre_match.
func PcreMatch(ctx *core.Ctx, subject, expr string) int {
	st := stateOf(ctx)
	if st == nil {
		ctx.Log(core.LErr, "KSR.regex.pcre_match: the regex module was not started\n")
		return -4
	}
	re, err := st.cache.Compile(expr)
	if err != nil {
		ctx.Log(core.LErr, "KSR.regex.pcre_match: "+clip(err.Error())+"\n")
		return -4
	}
	if re.MatchString(subject) {
		return 1
	}
	return -1
}

// PcreMatchGroup is KSR.regex.pcre_match_group.
func PcreMatchGroup(ctx *core.Ctx, subject string, group int) int {
	st := stateOf(ctx)
	if st == nil || st.groups == nil {
		ctx.Log(core.LErr, "KSR.regex.pcre_match_group: group matching is disabled: set modparam(\"regex\", \"file\", ...)\n")
		return -2
	}
	if group < 0 || group >= len(st.groups) {
		ctx.Log(core.LErr, "KSR.regex.pcre_match_group: expected a group from 0 to "+strconv.Itoa(len(st.groups)-1)+
			" of "+st.file+", got "+strconv.Itoa(group)+"\n")
		return -4
	}
	if st.groups[group].MatchString(subject) {
		return 1
	}
	return -1
}

// clip shortens a message that quotes a script's expression.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
