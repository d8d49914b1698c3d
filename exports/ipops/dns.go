package ipops

import (
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/internal/resolve"
)

// maxContainers bounds the pvids a worker keeps: a script that makes up
// pvids from message data cannot grow it without end.
const maxContainers = 32

// result is one container of a query function: rows of named fields.
type result struct {
	fields []string   // the names of a row's fields
	rows   [][]string // one row per record
	extra  map[string]string
}

// containers are a worker's results by kind ("dns", "srvquery", ...) and
// pvid, kept across messages as Kamailio keeps them per process.
type containers map[string]*result

// workerState keeps a worker's containers: its carry keeps the map from
// one message to the next, so results outlive the message that made them.
type workerState struct{ cs containers }

var perWorker = core.NewMsgState(func(old *workerState) workerState {
	if old.cs == nil {
		return workerState{cs: containers{}}
	}
	return workerState{cs: old.cs}
})

func store(ctx *core.Ctx, kind, pvid string, r *result) bool {
	cs := perWorker.Get(ctx).cs
	key := kind + "\x00" + pvid
	if _, ok := cs[key]; !ok && len(cs) >= maxContainers {
		ctx.Log(core.LErr, "ipops: "+kind+": more than "+strconv.Itoa(maxContainers)+" containers; "+core.LogQuote(pvid)+" not kept\n")
		return false
	}
	cs[key] = r
	return true
}

func lookupResult(ctx *core.Ctx, kind, pvid string) *result {
	return perWorker.Get(ctx).cs[kind+"\x00"+pvid]
}

func badPVID(ctx *core.Ctx, fn, pvid string) bool {
	if pvid == "" || len(pvid) > 64 {
		ctx.Log(core.LErr, "ipops: "+fn+": expected a container name of 1-64 characters, got "+core.LogQuote(pvid)+"\n")
		return true
	}
	return false
}

// DNSQuery is KSR.ipops.dns_query.
func DNSQuery(ctx *core.Ctx, hostname, pvid string) int {
	if badPVID(ctx, "dns_query", pvid) {
		return -1
	}
	var addrs []netip.Addr
	if a, k := parse(hostname); k != bad {
		addrs = []netip.Addr{a}
	} else {
		var err error
		if addrs, err = resolve.Default().Addrs(hostname); err != nil {
			ctx.Log(core.LDbg, "ipops: dns_query: "+core.LogValue(err.Error())+"\n")
		}
	}
	r := &result{fields: []string{"addr", "type"}, extra: map[string]string{"ipv4": "0", "ipv6": "0"}}
	for _, a := range addrs {
		t := "4"
		if a.Is6() {
			t = "6"
			r.extra["ipv6"] = "1"
		} else {
			r.extra["ipv4"] = "1"
		}
		r.rows = append(r.rows, []string{a.String(), t})
	}
	if !store(ctx, "dns", pvid, r) || len(addrs) == 0 {
		return -1
	}
	return 1
}

// SRVQuery is KSR.ipops.srv_query.
func SRVQuery(ctx *core.Ctx, name, pvid string) int {
	if badPVID(ctx, "srv_query", pvid) {
		return -1
	}
	recs, err := resolve.Default().SRVs(name)
	if err != nil {
		ctx.Log(core.LDbg, "ipops: srv_query: "+core.LogValue(err.Error())+"\n")
	}
	recs = append([]resolve.SRV(nil), recs...)
	resolve.OrderSRV(recs)
	r := &result{fields: []string{"port", "priority", "target", "weight"}}
	for _, s := range recs {
		r.rows = append(r.rows, []string{strconv.Itoa(int(s.Port)), strconv.Itoa(int(s.Priority)), strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Weight))})
	}
	if !store(ctx, "srvquery", pvid, r) || len(recs) == 0 {
		return -1
	}
	return 1
}

// NAPTRQuery is KSR.ipops.naptr_query.
func NAPTRQuery(ctx *core.Ctx, domain, pvid string) int {
	if badPVID(ctx, "naptr_query", pvid) {
		return -1
	}
	recs, err := resolve.Default().NAPTRs(domain)
	if err != nil {
		ctx.Log(core.LDbg, "ipops: naptr_query: "+core.LogValue(err.Error())+"\n")
	}
	r := &result{fields: []string{"order", "pref", "flags", "services", "regex", "replace"}}
	for _, n := range recs {
		r.rows = append(r.rows, []string{strconv.Itoa(int(n.Order)), strconv.Itoa(int(n.Pref)), n.Flags, n.Services, n.Regexp, strings.TrimSuffix(n.Replacement, ".")})
	}
	if !store(ctx, "naptrquery", pvid, r) || len(recs) == 0 {
		return -1
	}
	return 1
}

// PTRQuery is KSR.ipops.ptr_query.
func PTRQuery(ctx *core.Ctx, ip, pvid string) int {
	if badPVID(ctx, "ptr_query", pvid) {
		return -1
	}
	a, k := parse(ip)
	if k == bad {
		ctx.Log(core.LErr, "ipops: ptr_query: "+core.LogQuote(ip)+" is not an IP address\n")
		return -1
	}
	names, err := resolve.Default().PTR(a)
	if err != nil {
		ctx.Log(core.LDbg, "ipops: ptr_query: "+core.LogValue(err.Error())+"\n")
	}
	r := &result{fields: []string{"hostname"}}
	for _, n := range names {
		r.rows = append(r.rows, []string{n})
	}
	if !store(ctx, "ptrquery", pvid, r) || len(names) == 0 {
		return -1
	}
	return 1
}

// The getters of $dns, $srvquery, $naptrquery and $ptrquery (pvs: in
// module.yaml).
func getDNS(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	return getResult(ctx, "dns", arg, dst)
}

func getSRVQuery(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	return getResult(ctx, "srvquery", arg, dst)
}

func getNAPTRQuery(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	return getResult(ctx, "naptrquery", arg, dst)
}

func getPTRQuery(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	return getResult(ctx, "ptrquery", arg, dst)
}

// getResult reads $kind(pvid=>key) or $kind(pvid=>field[i]); i may be a
// number (negative counts from the end) or one pseudo-variable.
func getResult(ctx *core.Ctx, kind, arg string, dst []byte) ([]byte, bool) {
	pvid, key, ok := strings.Cut(arg, "=>")
	if !ok {
		return dst, false
	}
	r := lookupResult(ctx, kind, strings.TrimSpace(pvid))
	if r == nil {
		return dst, false
	}
	key = strings.TrimSpace(key)
	idx := 0
	if i := strings.IndexByte(key, '['); i >= 0 && strings.HasSuffix(key, "]") {
		n, ok := index(ctx, strings.TrimSpace(key[i+1:len(key)-1]))
		if !ok {
			return dst, false
		}
		idx, key = n, key[:i]
	}
	switch key {
	case "count":
		return strconv.AppendInt(dst, int64(len(r.rows)), 10), true
	}
	if v, ok := r.extra[key]; ok {
		return append(dst, v...), true
	}
	if kind == "ptrquery" && key == "name" {
		key = "hostname"
	}
	for f, name := range r.fields {
		if name != key {
			continue
		}
		if idx < 0 {
			idx += len(r.rows)
		}
		if idx < 0 || idx >= len(r.rows) {
			return dst, false
		}
		return append(dst, r.rows[idx][f]...), true
	}
	return dst, false
}

func index(ctx *core.Ctx, s string) (int, bool) {
	if strings.HasPrefix(s, "$") {
		name, arg, ok := core.SplitPV(s)
		get := core.LookupPV(name)
		if !ok || get == nil {
			return 0, false
		}
		var b [24]byte
		v, ok := get(ctx, arg, b[:0])
		if !ok {
			return 0, false
		}
		s = string(v)
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
