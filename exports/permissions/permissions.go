// Package permissions implements module permissions: address groups read
// at start from address_file and address modparams, checked against the
// source of a message (allow_source_address) or any address.
//
// The records are immutable once loaded, so workers read them without
// locks: exact addresses in a map, subnets in a slice, domain names in a
// map of their own, as Kamailio keeps its three address tables.
package permissions

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"kemi/core"
)

// Record is one address record.
type Record struct {
	Group  int
	Prefix netip.Prefix // the address and its netmask; invalid for a domain
	Domain string       // lowercased, for records that name a host
	Port   int          // 0: any port
	Tag    string
}

// Table holds the records of one runtime.
type Table struct {
	exact   map[netip.Addr][]Record
	subnets []Record
	domains map[string][]Record
	n       int
}

func newTable() *Table {
	return &Table{exact: map[netip.Addr][]Record{}, domains: map[string][]Record{}}
}

// ParseRecord parses one record, "group address [netmask [port [tag]]]"
// (a '#' starts a comment). ok is false for a blank or comment line.
func ParseRecord(line string) (r Record, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return r, false, nil
	}
	if len(f) > 5 {
		return r, false, fmt.Errorf("expected group address [netmask [port [tag]]], got %d fields", len(f))
	}
	num := func(what, s string, hi int) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > hi {
			return 0, fmt.Errorf("%s %q: expected an integer 0-%d", what, s, hi)
		}
		return n, nil
	}
	if r.Group, err = num("group", f[0], 1<<31-1); err != nil {
		return r, false, err
	}
	if len(f) < 2 {
		return r, false, fmt.Errorf("expected an address after group %d", r.Group)
	}
	addr, mask := f[1], -1
	if a, m, cut := strings.Cut(addr, "/"); cut {
		addr = a
		if mask, err = num("netmask", m, 128); err != nil {
			return r, false, err
		}
	}
	if len(f) > 2 {
		n, err := num("netmask", f[2], 128)
		if err != nil {
			return r, false, err
		}
		if n != 0 {
			mask = n
		}
	}
	if len(f) > 3 {
		if r.Port, err = num("port", f[3], 65535); err != nil {
			return r, false, err
		}
	}
	if len(f) > 4 {
		r.Tag = f[4]
	}
	a, perr := netip.ParseAddr(strings.Trim(addr, "[]"))
	if perr != nil || a.Zone() != "" {
		if !isHostName(addr) || mask > 0 {
			return r, false, fmt.Errorf("address %q: expected an IP address or a domain name", f[1])
		}
		r.Domain = strings.ToLower(addr)
		return r, true, nil
	}
	a = a.Unmap()
	if mask <= 0 {
		mask = a.BitLen()
	}
	if mask > a.BitLen() {
		return r, false, fmt.Errorf("netmask %d: expected at most %d for %s", mask, a.BitLen(), a)
	}
	r.Prefix = netip.PrefixFrom(a, mask).Masked()
	return r, true, nil
}

// isHostName accepts letters, digits, '-', '_' and '.'.
func isHostName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (t *Table) add(r Record) {
	t.n++
	switch {
	case r.Domain != "":
		t.domains[r.Domain] = append(t.domains[r.Domain], r)
	case r.Prefix.IsSingleIP():
		a := r.Prefix.Addr()
		t.exact[a] = append(t.exact[a], r)
	default:
		t.subnets = append(t.subnets, r)
	}
}

// Len is the number of records.
func (t *Table) Len() int { return t.n }

// match returns the first record for addr and port in group (any group
// when group < 0). A record's port 0 matches every port.
func (t *Table) match(group int, addr netip.Addr, host string, port int) (*Record, bool) {
	ok := func(r *Record) bool {
		return (group < 0 || r.Group == group) && (r.Port == 0 || r.Port == port)
	}
	if addr.IsValid() {
		addr = addr.Unmap()
		rs := t.exact[addr]
		for i := range rs {
			if ok(&rs[i]) {
				return &rs[i], true
			}
		}
		for i := range t.subnets {
			if r := &t.subnets[i]; ok(r) && r.Prefix.Contains(addr) {
				return r, true
			}
		}
		return nil, false
	}
	rs := t.domains[host]
	for i := range rs {
		if ok(&rs[i]) {
			return &rs[i], true
		}
	}
	return nil, false
}

type state struct {
	table   *Table
	trusted map[string][]Trusted // by source address text
	tagSet  core.PVSetter
	tagArg  string
	tagAll  bool // peer_tag_mode 1: every matching trusted record
}

// states is each runtime's state, set by start (nil when not started).
var states = core.NewRuntimeState[state](nil)

// Load builds the table from the params of rt.
func Load(rt *core.Runtime) (*Table, error) {
	t := newTable()
	if v := rt.Param("permissions", "address_file"); v.Kind == core.KStr && v.S != "" {
		f, err := os.Open(v.S)
		if err != nil {
			return nil, fmt.Errorf(`modparam("permissions", "address_file"): %w`, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			r, ok, err := ParseRecord(string(bytes.TrimSpace(sc.Bytes())))
			if err != nil {
				return nil, fmt.Errorf("address_file %s:%d: %w", v.S, line, err)
			}
			if ok {
				t.add(r)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("address_file %s: %w", v.S, err)
		}
	}
	for _, v := range rt.ParamValues("permissions", "address") {
		r, ok, err := ParseRecord(v.S)
		if err != nil {
			return nil, fmt.Errorf(`modparam("permissions", "address", %q): %w`, v.S, err)
		}
		if ok {
			t.add(r)
		}
	}
	if max := rt.Param("permissions", "max_subnets"); max.Kind == core.KInt && len(t.subnets) > int(max.I) {
		return nil, fmt.Errorf("permissions: %d subnet records, more than max_subnets %d", len(t.subnets), max.I)
	}
	return t, nil
}

func start(rt *core.Runtime) error {
	t, err := Load(rt)
	if err != nil {
		return err
	}
	trusted, err := loadTrusted(rt)
	if err != nil {
		return err
	}
	st := &state{table: t, trusted: trusted, tagAll: rt.Param("permissions", "peer_tag_mode").I == 1}
	if v := rt.Param("permissions", "peer_tag_avp"); v.Kind == core.KStr && v.S != "" {
		name, arg, ok := core.SplitPV(v.S)
		if !ok || core.LookupPVSetter(name) == nil {
			return fmt.Errorf(`modparam("permissions", "peer_tag_avp", %q): expected a writable pseudo-variable such as "$avp(peer)"`, v.S)
		}
		st.tagSet, st.tagArg = core.LookupPVSetter(name), arg
	}
	if db := rt.Param("permissions", "db_url"); db.Kind == core.KStr && db.S != "" && t.Len() == 0 && rt.Log != nil {
		rt.Log.Log(core.LWarn, nil, "permissions: db_url is set but kemi has no database for the address table; "+
			"set address_file (Kamailio's address file format): no address is allowed until then\n")
	}
	states.Set(rt, st)
	return nil
}

// stateOf is the runtime's state; reading it takes no lock.
func stateOf(ctx *core.Ctx) *state { return states.Peek(ctx.RT) }

// check matches and sets the peer tag on success.
func check(ctx *core.Ctx, group int, addr netip.Addr, host string, port int) (*Record, bool) {
	st := stateOf(ctx)
	if st == nil {
		ctx.Log(core.LErr, "permissions: the module was not started\n")
		return nil, false
	}
	r, ok := st.table.match(group, addr, host, port)
	if ok && r.Tag != "" && st.tagSet != nil {
		if err := st.tagSet(ctx, st.tagArg, core.Str(r.Tag)); err != nil {
			ctx.Log(core.LErr, "permissions: peer_tag_avp: "+core.LogValue(err.Error())+"\n")
		}
	}
	return r, ok
}

// AllowSourceAddress is allow_source_address.
func AllowSourceAddress(ctx *core.Ctx, group int) int {
	if _, ok := check(ctx, group, ctx.Src.Addr(), "", int(ctx.Src.Port())); ok {
		return 1
	}
	return -1
}

// AllowSourceAddressGroup is allow_source_address_group.
func AllowSourceAddressGroup(ctx *core.Ctx) int {
	if r, ok := check(ctx, -1, ctx.Src.Addr(), "", int(ctx.Src.Port())); ok {
		return r.Group
	}
	return -1
}

// parseAddr parses an IP address, IPv6 with or without brackets.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil || a.Zone() != "" {
		return a, fmt.Errorf("address %q: expected an IP address", s)
	}
	return a.Unmap(), nil
}

// parseTarget reads an address argument: an IP, or a host name matched
// against domain records.
func parseTarget(s string) (netip.Addr, string, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil && a.Zone() == "" {
		return a, "", true
	}
	if !isHostName(s) {
		return netip.Addr{}, "", false
	}
	return netip.Addr{}, strings.ToLower(s), true
}

// AllowAddress is allow_address.
func AllowAddress(ctx *core.Ctx, group int, address string, port int) int {
	a, host, ok := parseTarget(address)
	if !ok {
		ctx.Log(core.LErr, "permissions: allow_address: "+core.LogQuote(address)+" is not an IP address or a host name\n")
		return -1
	}
	if _, ok := check(ctx, group, a, host, port); ok {
		return 1
	}
	return -1
}

// AllowAddressGroup is allow_address_group.
func AllowAddressGroup(ctx *core.Ctx, address string, port int) int {
	a, host, ok := parseTarget(address)
	if !ok {
		ctx.Log(core.LErr, "permissions: allow_address_group: "+core.LogQuote(address)+" is not an IP address or a host name\n")
		return -1
	}
	if r, ok := check(ctx, -1, a, host, port); ok {
		return r.Group
	}
	return -1
}
