// Package rr implements module rr: Record-Route insertion and Route header
// processing (loose routing, RFC 3261 §16.4, §16.6 and §16.12, with the
// strict-router compatibility of §16.4), as Kamailio's rr module does it.
//
// record_route puts "Record-Route: <sip:IP:PORT;lr;ftag=FROMTAG>" on top of
// the headers, with the address of the socket the request came in on.
// loose_route removes this server's own Route entry and sets the next hop:
// ctx.DstURI when the next Route is a loose router, the Request-URI when
// it is a strict one.
package rr

import (
	"bytes"
	"regexp"

	"kemi/core"
	"kemi/internal/recache"
	"kemi/sip"
)

// Return codes of loose_route, as Kamailio's.
const (
	RRDriven    = 1  // the next hop comes from the route set
	NotRRDriven = -1 // no Route header (or an error)
	RRPreloaded = -3 // only a preloaded Route of ours: the R-URI is the next hop
)

// state is this module's per-message state.
type state struct {
	added     bool      // a Record-Route was added to this message
	preset    bool      // it was record_route_preset: params go before ;lr
	prefix    [2][]byte // "<sip:host:port;lr;ftag=x" (or "<sip:addr;ftag=x" for presets)
	nprefix   int       // Record-Route entries built (2 for a double preset)
	rrParams  []byte    // params from add_rr_param
	rrLine    int       // number of Record-Route lines we added
	routed    bool      // loose_route found a Route of ours
	params    []byte    // URI params of our Route (";lr;ftag=..."), copied
	routeAddr bool      // the next hop came from a Route header (next_hop_route)
	bufs      [2][]byte // message buffers for Apply, used in turn (see rewriteTop)
	which     int       // which of bufs holds the message now
	scratch   []byte    // builds header values before an edit copies them
}

// A new message keeps the worker's buffers (prefix and bufs: the one the
// message was last written to stays where which says) and nothing else.
var msgStates = core.NewMsgState(func(old *state) state {
	return state{
		prefix: old.prefix, rrParams: old.rrParams[:0], params: old.params[:0],
		bufs: old.bufs, which: old.which, scratch: old.scratch,
	}
})

func get(ctx *core.Ctx) *state { return msgStates.Get(ctx) }

func paramInt(ctx *core.Ctx, name string, def int64) int64 {
	if ctx.RT == nil || ctx.RT.Reg == nil {
		return def
	}
	v := ctx.RT.Param("rr", name)
	if v.Kind == core.KInt {
		return v.I
	}
	return def
}

// myself tells whether a Route's host:port is this server. A Route
// without a port means the SIP default, as Kamailio's rr checks it.
func myself(ctx *core.Ctx, host []byte, port int) bool {
	if port == 0 {
		port = 5060
	}
	return ctx.IsMyself(host, port)
}

func isSips(ctx *core.Ctx) bool {
	u := ctx.Msg.RequestURI()
	return len(u) > 5 && sip.HasPrefixFold(u, "sips:")
}

// appendLocal writes the address of the socket the message came in on, as
// Kamailio's record_route does: IP:PORT, and ;transport= for non-UDP.
// WebSocket over TLS is written transport=ws, as Kamailio writes it:
// RFC 7118 registers only "ws" as a URI transport value (WSS is a Via
// transport token, not a URI one).
func appendLocal(b []byte, ctx *core.Ctx) []byte {
	b = sip.AppendHostPort(b, ctx.Local)
	if ctx.Proto != core.UDP && ctx.Proto != 0 {
		b = append(b, ";transport="...)
		p := ctx.Proto
		if p == core.WSS {
			p = core.WS
		}
		b = append(b, p.String()...)
	}
	return b
}

func appendLR(b []byte, ctx *core.Ctx) []byte {
	if paramInt(ctx, "enable_full_lr", 0) != 0 {
		return append(b, ";lr=on"...)
	}
	return append(b, ";lr"...)
}

func appendFtag(b []byte, ctx *core.Ctx) []byte {
	if paramInt(ctx, "append_fromtag", 1) == 0 {
		return b
	}
	if tag := ctx.Msg.FromTag(); len(tag) > 0 {
		b = append(b, ";ftag="...)
		b = append(b, tag...)
	}
	return b
}

// rrValue builds the i-th Record-Route value from the state.
func (st *state) rrValue(ctx *core.Ctx, i int) []byte {
	b := append(st.scratch[:0], st.prefix[i]...)
	b = append(b, st.rrParams...)
	if st.preset {
		b = appendLR(b, ctx)
	}
	b = append(b, '>')
	st.scratch = b
	return b
}

func checkRequest(ctx *core.Ctx, fn string) bool {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		ctx.Log(core.LErr, "rr: "+fn+": the message is not a request\n")
		return false
	}
	return true
}

func (st *state) insert(ctx *core.Ctx, fn string, value []byte) int {
	if err := ctx.Msg.InsertHeaderBefore(0, "Record-Route", value); err != nil {
		ctx.Log(core.LErr, "rr: "+fn+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	st.rrLine++
	return 1
}

func recordRoute(ctx *core.Ctx, fn string, host string, params string) int {
	if !checkRequest(ctx, fn) {
		return -1
	}
	st := get(ctx)
	if st.added {
		ctx.Log(core.LErr, "rr: "+fn+": double attempt to record-route\n")
		return -1
	}
	b := st.prefix[0][:0]
	if isSips(ctx) {
		b = append(b, "<sips:"...)
	} else {
		b = append(b, "<sip:"...)
	}
	if host == "" {
		if a := ctx.Local.Addr(); !a.IsValid() || a.IsUnspecified() {
			ctx.Log(core.LErr, "rr: "+fn+": the socket address "+ctx.Local.String()+" cannot go in a Record-Route; listen on a specific address or use record_route_preset\n")
			return -1
		}
		b = appendLocal(b, ctx)
	} else {
		b = append(b, host...)
	}
	b = appendLR(b, ctx)
	b = appendFtag(b, ctx)
	b = append(b, params...)
	st.prefix[0] = b
	st.preset = false
	st.nprefix = 1
	if r := st.insert(ctx, fn, st.rrValue(ctx, 0)); r < 0 {
		return r
	}
	if ctx.Route != core.BranchRoute {
		st.added = true
	}
	return 1
}

// RecordRoute is KSR.rr.record_route.
func RecordRoute(ctx *core.Ctx) int { return recordRoute(ctx, "record_route", "", "") }

// RecordRouteParams is KSR.rr.record_route_params: params (";a=b") are
// added to the Record-Route URI.
func RecordRouteParams(ctx *core.Ctx, params string) int {
	return recordRoute(ctx, "record_route_params", "", params)
}

// RecordRouteAdvertisedAddress is record_route with addr ("host:port")
// instead of the socket address.
func RecordRouteAdvertisedAddress(ctx *core.Ctx, addr string) int {
	if addr == "" {
		ctx.Log(core.LErr, "rr: record_route_advertised_address: empty address\n")
		return -1
	}
	return recordRoute(ctx, "record_route_advertised_address", stripScheme(addr), "")
}

func stripScheme(a string) string {
	switch {
	case len(a) > 4 && (a[:4] == "sip:" || a[:4] == "SIP:"):
		return a[4:]
	case len(a) > 5 && (a[:5] == "sips:" || a[:5] == "SIPS:"):
		return a[5:]
	}
	return a
}

func preset(ctx *core.Ctx, fn, addr1, addr2 string) int {
	if !checkRequest(ctx, fn) {
		return -1
	}
	st := get(ctx)
	if st.added {
		ctx.Log(core.LErr, "rr: "+fn+": double attempt to record-route\n")
		return -1
	}
	if addr1 == "" {
		ctx.Log(core.LErr, "rr: "+fn+": empty address\n")
		return -1
	}
	scheme := "<sip:"
	if isSips(ctx) {
		scheme = "<sips:"
	}
	st.preset = true
	st.nprefix = 0
	for _, a := range [2]string{addr1, addr2} {
		if a == "" {
			continue
		}
		b := append(st.prefix[st.nprefix][:0], scheme...)
		b = append(b, stripScheme(a)...)
		st.prefix[st.nprefix] = appendFtag(b, ctx)
		if r := st.insert(ctx, fn, st.rrValue(ctx, st.nprefix)); r < 0 {
			return r
		}
		st.nprefix++
	}
	if ctx.Route != core.BranchRoute {
		st.added = true
	}
	return 1
}

// RecordRoutePreset is KSR.rr.record_route_preset: a Record-Route with the
// given address ("host:port", or a SIP URI without <>); addr2, when not
// empty, adds a second one below it (double record-routing).
func RecordRoutePreset(ctx *core.Ctx, addr1, addr2 string) int {
	return preset(ctx, "record_route_preset", addr1, addr2)
}

// RecordRoutePresetOne is record_route_preset with one address.
func RecordRoutePresetOne(ctx *core.Ctx, addr string) int {
	return preset(ctx, "record_route_preset_one", addr, "")
}

// AddRRParam is KSR.rr.add_rr_param: param (";name=value") goes into the
// Record-Route this message gets or already got.
func AddRRParam(ctx *core.Ctx, param string) int {
	if !checkRequest(ctx, "add_rr_param") {
		return -1
	}
	if param == "" {
		return -1
	}
	st := get(ctx)
	st.rrParams = append(st.rrParams, param...)
	if st.rrLine == 0 {
		return 1
	}
	// The Record-Route is already an edit, which cannot be changed in
	// place: write the message out with its edits, then replace the line.
	if err := st.rewriteTop(ctx, true); err != nil {
		ctx.Log(core.LErr, "rr: add_rr_param: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// rewriteTop applies the pending edits to the message (into a buffer this
// state owns), then removes the Record-Route lines this module added and,
// when replace is set, adds them again as they are now (with new params).
// An insert cannot be changed once recorded, hence the detour; it is taken
// only for add_rr_param after record_route and for remove_record_route.
func (st *state) rewriteTop(ctx *core.Ctx, replace bool) error {
	m := ctx.Msg
	st.which ^= 1
	b, err := m.Apply(st.bufs[st.which][:0])
	st.bufs[st.which] = b
	if err != nil {
		return err
	}
	// Ours are the first Record-Route lines: they went before the first
	// header.
	var idx [2]int
	n := 0
	for it := m.Lines("Record-Route"); n < st.rrLine && n < len(idx) && it.Next(); n++ {
		idx[n] = it.Index()
	}
	for i := 0; i < n; i++ {
		if err := m.RemoveHeaderAt(idx[i]); err != nil {
			return err
		}
	}
	if !replace {
		st.rrLine = 0
		return nil
	}
	for i := 0; i < st.nprefix; i++ {
		if err := m.InsertHeaderBefore(0, "Record-Route", st.rrValue(ctx, i)); err != nil {
			return err
		}
	}
	return nil
}

// RemoveRecordRoute is KSR.rr.remove_record_route: undo the Record-Route
// added to this message.
func RemoveRecordRoute(ctx *core.Ctx) int {
	if !checkRequest(ctx, "remove_record_route") {
		return -1
	}
	st := get(ctx)
	if st.rrLine > 0 {
		if err := st.rewriteTop(ctx, false); err != nil {
			ctx.Log(core.LErr, "rr: remove_record_route: "+core.LogValue(err.Error())+"\n")
			return -1
		}
	}
	st.added = false
	st.rrParams = st.rrParams[:0]
	return 1
}

// route is one Route value with its position among all Route values.
type route struct {
	uri sip.URI
	raw []byte
	idx int
}

// routes collects the Route values of the message (at most max).
func routes(m *sip.Msg, dst []route) ([]route, error) {
	it := m.Routes()
	for i := 0; it.Next(); i++ {
		na := it.NameAddr()
		u, err := sip.ParseURI(na.URI)
		if err != nil {
			return dst, err
		}
		dst = append(dst, route{uri: u, raw: na.URI, idx: i})
	}
	return dst, it.Err()
}

func isStrict(u *sip.URI) bool { return !u.Params.Has("lr") }

// LooseRoute is KSR.rr.loose_route.
func LooseRoute(ctx *core.Ctx) int { return looseRoute(ctx, 0) }

// LooseRouteMode is KSR.rr.loose_route_mode: mode 1 does not treat a
// Request-URI of ours as coming from a strict router.
func LooseRouteMode(ctx *core.Ctx, mode int) int { return looseRoute(ctx, mode) }

// LooseRoutePreloaded is KSR.rr.loose_route_preloaded: 1 when loose_route
// found only a preloaded Route of ours, -1 otherwise.
func LooseRoutePreloaded(ctx *core.Ctx) int {
	if looseRoute(ctx, 0) == RRPreloaded {
		return 1
	}
	return -1
}

// NextHopRoute is KSR.rr.next_hop_route: 1 when loose_route took the next
// hop from a Route header after removing ours.
func NextHopRoute(ctx *core.Ctx) int {
	if ctx.Msg != nil && get(ctx).routeAddr {
		return 1
	}
	return -1
}

func looseRoute(ctx *core.Ctx, mode int) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() || !m.HasHeader("Route") {
		return NotRRDriven
	}
	var arr [8]route
	rs, err := routes(m, arr[:0])
	if err != nil {
		ctx.Log(core.LErr, "rr: loose_route: bad Route header: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	if len(rs) == 0 {
		return NotRRDriven
	}
	ru, err := sip.ParseURI(m.RequestURI())
	if err != nil {
		ctx.Log(core.LErr, "rr: loose_route: cannot parse the Request-URI: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	to, err := m.To()
	if err != nil {
		ctx.Log(core.LErr, "rr: loose_route: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	st := get(ctx)
	preloaded := len(to.Tag) == 0
	var rc int
	if !preloaded && mode == 0 && myself(ctx, ru.Host, ru.Port) {
		rc = afterStrict(ctx, st, rs, &ru)
	} else {
		rc = afterLoose(ctx, st, rs, preloaded)
	}
	if rc > 0 || rc == RRPreloaded {
		runLoose(ctx, st)
	}
	return rc
}

func (st *state) setParams(p sip.Params) {
	st.routed = true
	st.params = append(st.params[:0], p...)
}

func remove(ctx *core.Ctx, r *route) bool {
	if err := ctx.Msg.RemoveValue("Route", r.idx); err != nil {
		ctx.Log(core.LErr, "rr: loose_route: cannot remove Route "+core.LogQuote(r.raw)+": "+core.LogValue(err.Error())+"\n")
		return false
	}
	return true
}

func setRURI(ctx *core.Ctx, uri []byte) {
	ctx.Scratch = append(ctx.Scratch[:0], uri...)
	ctx.Msg.SetRequestURI(ctx.Scratch)
}

// afterLoose handles a request whose previous hop was a loose router.
func afterLoose(ctx *core.Ctx, st *state, rs []route, preloaded bool) int {
	next := &rs[0]
	if myself(ctx, next.uri.Host, next.uri.Port) {
		st.setParams(next.uri.Params)
		if !remove(ctx, next) {
			return -1
		}
		rest := rs[1:]
		// Double record-routing: our second entry (r2=on) goes too.
		if next.uri.Params.Has("r2") && len(rest) > 0 {
			if !remove(ctx, &rest[0]) {
				return -1
			}
			rest = rest[1:]
		}
		if len(rest) == 0 {
			if preloaded {
				return RRPreloaded
			}
			return RRDriven
		}
		next = &rest[0]
		st.routeAddr = true
	}
	if isStrict(&next.uri) {
		// The next hop is a strict router (RFC 3261 §16.6 step 6): the
		// Request-URI goes to the end of the route set and the strict
		// router's URI becomes the Request-URI.
		if err := ctx.Msg.AppendHeader("Route", routeValue(ctx, ctx.Msg.RequestURI())); err != nil {
			ctx.Log(core.LErr, "rr: loose_route: "+core.LogValue(err.Error())+"\n")
			return -1
		}
		setRURI(ctx, next.raw)
		if !remove(ctx, next) {
			return -1
		}
		return RRDriven
	}
	ctx.DstURI = string(next.raw)
	return RRDriven
}

func routeValue(ctx *core.Ctx, uri []byte) []byte {
	st := get(ctx)
	b := append(st.scratch[:0], '<')
	b = append(b, uri...)
	b = append(b, '>')
	st.scratch = b
	return b
}

// afterStrict handles a request whose Request-URI is ours: the previous
// hop was a strict router that put our Record-Route URI there (RFC 3261
// §16.4). The Request-URI's params are ours.
func afterStrict(ctx *core.Ctx, st *state, rs []route, ru *sip.URI) int {
	next := &rs[0]
	rest := rs
	if next.uri.Params.Has("r2") && myself(ctx, next.uri.Host, next.uri.Port) {
		if !remove(ctx, next) {
			return -1
		}
		rest = rs[1:]
		if len(rest) == 0 {
			return NotRRDriven
		}
		next = &rest[0]
	}
	st.setParams(ru.Params)
	if isStrict(&next.uri) {
		// The next hop is strict too: act as a strict router.
		setRURI(ctx, next.raw)
		if !remove(ctx, next) {
			return -1
		}
		return RRDriven
	}
	// The next hop is a loose router; the last Route is the remote target
	// the strict router moved there: it becomes the Request-URI again.
	if len(rest) < 2 {
		ctx.Log(core.LErr, "rr: loose_route: strict-routed request without a remote target in its Route set\n")
		return -1
	}
	ctx.DstURI = string(next.raw)
	last := &rest[len(rest)-1]
	setRURI(ctx, last.raw)
	if !remove(ctx, last) {
		return -1
	}
	return RRDriven
}

// routedParams returns the params of our Route entry: those loose_route
// saw, or (before it ran) those of the top Route when it is ours.
func routedParams(ctx *core.Ctx) ([]byte, bool) {
	st := get(ctx)
	if st.routed {
		return st.params, true
	}
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		return nil, false
	}
	it := m.Routes()
	if !it.Next() {
		return nil, false
	}
	u, err := sip.ParseURI(it.NameAddr().URI)
	if err != nil || !myself(ctx, u.Host, u.Port) {
		return nil, false
	}
	return u.Params, true
}

// regexps are matched without case, as Kamailio's rr does.
var regexps = recache.New("(?i)")

// compile returns the compiled case-insensitive regexp, cached.
func compile(expr string) (*regexp.Regexp, error) { return regexps.Compile(expr) }

// CheckRouteParam is KSR.rr.check_route_param: 1 when the params of our
// Route entry (";lr;ftag=...;nat=yes") match the regular expression.
func CheckRouteParam(ctx *core.Ctx, expr string) int {
	re, err := compile(expr)
	if err != nil {
		ctx.Log(core.LErr, "rr: check_route_param: bad regular expression "+core.LogQuote(expr)+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	p, ok := routedParams(ctx)
	if !ok || len(p) == 0 {
		return -1
	}
	if re.Match(p) {
		return 1
	}
	return -1
}

// IsDirection is KSR.rr.is_direction: "downstream" when the request goes
// the way the dialog's first request went (its From tag is the ftag of our
// Route entry), "upstream" otherwise. 1 when dir matches.
func IsDirection(ctx *core.Ctx, dir string) int {
	var want bool // true: upstream
	switch {
	case sip.EqualFold(dir, "downstream"):
	case sip.EqualFold(dir, "upstream"):
		want = true
	default:
		ctx.Log(core.LErr, "rr: is_direction: expected \"downstream\" or \"upstream\", got "+core.LogQuote(dir)+"\n")
		return -1
	}
	if paramInt(ctx, "append_fromtag", 1) == 0 {
		ctx.Log(core.LErr, "rr: is_direction: needs modparam(\"rr\", \"append_fromtag\", 1)\n")
		return -1
	}
	if ctx.Msg == nil {
		return -1
	}
	up := false
	if p, ok := routedParams(ctx); ok {
		if ftag, ok := sip.Params(p).Get("ftag"); ok && len(ftag) > 0 {
			if tag := ctx.Msg.FromTag(); len(tag) > 0 && !bytes.Equal(tag, ftag) {
				up = true
			}
		}
	}
	if up == want {
		return 1
	}
	return -1
}

// RouteParam returns the value of parameter name in this server's Route
// entry of an in-dialog request (the one loose_route took, or the top
// Route when it is ours and loose_route has not run), for modules that
// keep dialog state there (uac's vsf/vst).
func RouteParam(ctx *core.Ctx, name string) ([]byte, bool) {
	p, ok := routedParams(ctx)
	if !ok {
		return nil, false
	}
	return sip.Params(p).Get(name)
}
