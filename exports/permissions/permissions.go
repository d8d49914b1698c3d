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
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"kemi/core"
	"kemi/internal/sqldb"
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
	table   atomic.Pointer[Table] // swapped whole by permissions.addressReload
	trusted map[string][]Trusted  // by source address text
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
	if db := rt.Param("permissions", "db_url"); db.Kind == core.KStr && sqldb.IsSQL(db.S) {
		if err := loadSQL(rt, db.S, t); err != nil {
			return nil, err
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
	st := &state{trusted: trusted, tagAll: rt.Param("permissions", "peer_tag_mode").I == 1}
	st.table.Store(t)
	if v := rt.Param("permissions", "peer_tag_avp"); v.Kind == core.KStr && v.S != "" {
		name, arg, ok := core.SplitPV(v.S)
		if !ok || core.LookupPVSetter(name) == nil {
			return fmt.Errorf(`modparam("permissions", "peer_tag_avp", %q): expected a writable pseudo-variable such as "$avp(peer)"`, v.S)
		}
		st.tagSet, st.tagArg = core.LookupPVSetter(name), arg
	}
	if db := rt.Param("permissions", "db_url"); db.Kind == core.KStr && db.S != "" && !sqldb.IsSQL(db.S) && t.Len() == 0 && rt.Log != nil {
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
	r, ok := st.table.Load().match(group, addr, host, port)
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

// loadSQL adds the rows of Kamailio's address table (address_table,
// with the grp_col, ip_addr_col, mask_col, port_col and tag_col
// columns) to t. A row that does not parse stops the load, naming it.
func loadSQL(rt *core.Runtime, url string, t *Table) error {
	p := func(name string) string { return rt.Param("permissions", name).S }
	names := []string{"address_table", "grp_col", "ip_addr_col", "mask_col", "port_col", "tag_col"}
	for _, n := range names {
		if !validIdent(p(n)) {
			return fmt.Errorf(`modparam("permissions", %q, %q): want a table or column name (letters, digits, _)`, n, p(n))
		}
	}
	db, err := sqldb.Shared(url, sqldb.Options{Workers: 1})
	if err != nil {
		return fmt.Errorf(`modparam("permissions", "db_url"): %w`, err)
	}
	defer db.Close()
	if w := db.CheckVersion(p("address_table"), "address"); w != "" && rt.Log != nil {
		rt.Log.Log(core.LWarn, nil, "permissions: "+w)
	}
	q := fmt.Sprintf("SELECT %s, %s, %s, %s, %s FROM %s", db.Quote(p("grp_col")), db.Quote(p("ip_addr_col")),
		db.Quote(p("mask_col")), db.Quote(p("port_col")), db.Quote(p("tag_col")), db.Quote(p("address_table")))
	rows, done, err := db.Query(q)
	if err != nil {
		return fmt.Errorf("permissions: loading the address table: %w", err)
	}
	defer done()
	defer rows.Close()
	for rows.Next() {
		var grp, mask, port int64
		var ip string
		var tag *string
		if err := rows.Scan(&grp, &ip, &mask, &port, &tag); err != nil {
			return fmt.Errorf("permissions: %s table %s: %w", db.URL, p("address_table"), err)
		}
		r, ok, err := ParseRecord(fmt.Sprintf("%d %s %d %d", grp, ip, mask, port))
		if err == nil && !ok {
			err = fmt.Errorf("no address")
		}
		if err != nil {
			return fmt.Errorf("permissions: %s table %s: row grp=%d ip_addr=%q mask=%d port=%d: %w", db.URL, p("address_table"), grp, ip, mask, port, err)
		}
		if tag != nil {
			r.Tag = *tag
		}
		t.add(r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("permissions: loading the address table: %w", err)
	}
	return nil
}

// validIdent says whether s may be used as a table or column name.
func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// permissions.addressReload: read the address records again (file,
// modparams and the database table); on an error the running records
// stay and the error is the answer.
func rpcAddressReload(rt *core.Runtime, _ []core.Value) (any, error) {
	st := states.Peek(rt)
	if st == nil {
		return nil, fmt.Errorf("permissions.addressReload: the module was not started")
	}
	t, err := Load(rt)
	if err != nil {
		return nil, fmt.Errorf("permissions.addressReload: %w; the %d records loaded before stay", err, st.table.Load().Len())
	}
	st.table.Store(t)
	return "Reload OK", nil
}

// permissions.addressDump: the records, as Kamailio's
// [{"table": ..., "group", "ip", "port", "mask", "tag"}].
func rpcAddressDump(rt *core.Runtime, _ []core.Value) (any, error) {
	st := states.Peek(rt)
	if st == nil {
		return nil, fmt.Errorf("permissions.addressDump: the module was not started")
	}
	t := st.table.Load()
	var recs []Record
	for _, rs := range t.exact {
		recs = append(recs, rs...)
	}
	recs = append(recs, t.subnets...)
	for _, rs := range t.domains {
		recs = append(recs, rs...)
	}
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Prefix != b.Prefix {
			return a.Prefix.String() < b.Prefix.String()
		}
		return a.Domain < b.Domain
	})
	out := []any{}
	for _, r := range recs {
		ip, mask := r.Domain, 0
		if r.Prefix.IsValid() {
			ip, mask = r.Prefix.Addr().String(), r.Prefix.Bits()
		}
		out = append(out, map[string]any{"group": r.Group, "ip": ip, "mask": mask, "port": r.Port, "tag": r.Tag})
	}
	return out, nil
}
