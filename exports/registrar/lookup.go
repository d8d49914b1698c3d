package registrar

import (
	"time"

	"kemi/core"
	"kemi/exports/usrloc"
	"kemi/sip"
)

// Lookup is lookup(table): the Request-URI's bindings.
func Lookup(ctx *core.Ctx, table string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -3
	}
	return lookup(ctx, table, ctx.Msg.RequestURI(), true)
}

// LookupURI is lookup_uri(table, uri).
func LookupURI(ctx *core.Ctx, table, uri string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -3
	}
	return lookup(ctx, table, bytesOf(uri), true)
}

// LookupBranches is lookup_branches(table): lookup for the Request-URI
// and for each branch; a branch without bindings stays as it was.
func LookupBranches(ctx *core.Ctx, table string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -3
	}
	// The branches lookup appends to are after the original ones, so walk
	// only those present now, then drop the ones that were resolved.
	n := len(ctx.Branches)
	found := lookup(ctx, table, ctx.Msg.RequestURI(), true) > 0
	j := 0
	for i := 0; i < n; i++ {
		b := ctx.Branches[i]
		if addBranches(ctx, table, bytesOf(b.URI)) > 0 {
			found = true
			continue
		}
		ctx.Branches[j] = b
		j++
	}
	if j < n {
		// Close the gap left by the resolved branches.
		rest := ctx.Branches[n:]
		copy(ctx.Branches[j:], rest)
		clear(ctx.Branches[j+len(rest):])
		ctx.Branches = ctx.Branches[:j+len(rest)]
	}
	if found {
		return 1
	}
	return -1
}

// lookup finds the bindings of uri's AoR. With setRURI the best one
// becomes the Request-URI (and destination); the others become branches.
func lookup(ctx *core.Ctx, table string, uri []byte, setRURI bool) int {
	c := cfg(ctx.RT)
	s := st(ctx)
	if !aorOf(ctx, s, uri) {
		ctx.Log(core.LDbg, "registrar: lookup: no user in the URI\n")
		return -3
	}
	now := time.Now().Unix()
	method := ctx.Msg.MethodID()
	rc := -1
	usrloc.Get(ctx.RT).Table(table).View(s.aor, func(r *usrloc.Record) {
		if r == nil {
			return
		}
		s.best = s.best[:0]
		live := false
		for i := range r.Contacts {
			b := &r.Contacts[i]
			if b.Expires <= now {
				continue
			}
			live = true
			if c.methodFiltering && b.Methods != 0 && b.Methods&(1<<uint(method)) == 0 {
				continue
			}
			s.best = append(s.best, i)
		}
		if len(s.best) == 0 {
			if live {
				rc = -2
			}
			return
		}
		// Highest q first; on a tie the latest registered (insertion
		// sort: a handful of contacts).
		for i := 1; i < len(s.best); i++ {
			for k := i; k > 0 && better(&r.Contacts[s.best[k]], &r.Contacts[s.best[k-1]]); k-- {
				s.best[k], s.best[k-1] = s.best[k-1], s.best[k]
			}
		}
		rc = 1
		first := 0
		if setRURI {
			b := &r.Contacts[s.best[0]]
			ctx.Msg.SetRequestURI(bytesOf(b.URI))
			ctx.DstURI = b.Received
			ctx.DstConnID = b.ConnID
			ctx.BranchFlags |= b.Flags
			ctx.Path = ""
			if b.Path != "" {
				routeByPath(ctx, b)
			}
			first = 1
			if !c.appendBranches {
				return
			}
		}
		for _, i := range s.best[first:] {
			b := &r.Contacts[i]
			ctx.Branches = append(ctx.Branches, core.Branch{
				URI: b.URI, DstURI: b.Received, Path: b.Path, Q: b.Q, Flags: b.Flags,
				Socket: b.Socket, Instance: b.Instance, RegID: b.RegID, ConnID: b.ConnID,
			})
		}
	})
	return rc
}

// addBranches adds every binding of uri's AoR as a branch.
func addBranches(ctx *core.Ctx, table string, uri []byte) int {
	return lookup(ctx, table, uri, false)
}

func better(a, b *usrloc.Contact) bool {
	if a.Q != b.Q {
		return a.Q > b.Q
	}
	return a.Modified > b.Modified
}

// routeByPath makes the request follow the Path the binding registered
// with (RFC 3327 5.3): ctx.Path, which tm (and forward) put in a Route
// header when the request leaves, as Kamailio's path vector; and the
// first hop as the destination unless a received address is known.
func routeByPath(ctx *core.Ctx, b *usrloc.Contact) {
	ctx.Path = b.Path
	if ctx.DstURI != "" {
		return
	}
	sp := sip.SplitCommas(bytesOf(b.Path))
	if v, ok := sp.Next(); ok {
		if na, err := sip.ParseNameAddr(v); err == nil {
			ctx.DstURI = string(na.URI)
		}
	}
}

// Registered is registered(table).
func Registered(ctx *core.Ctx, table string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	return registered(ctx, table, ctx.Msg.RequestURI())
}

// RegisteredURI is registered_uri(table, uri).
func RegisteredURI(ctx *core.Ctx, table, uri string) int {
	return registered(ctx, table, bytesOf(uri))
}

func registered(ctx *core.Ctx, table string, uri []byte) int {
	s := st(ctx)
	if !aorOf(ctx, s, uri) {
		return -1
	}
	now := time.Now().Unix()
	rc := -1
	usrloc.Get(ctx.RT).Table(table).View(s.aor, func(r *usrloc.Record) {
		if r == nil {
			return
		}
		for i := range r.Contacts {
			if r.Contacts[i].Expires > now {
				rc = 1
				return
			}
		}
	})
	return rc
}

// Unregister is unregister(table, uri): remove every binding of uri.
func Unregister(ctx *core.Ctx, table, uri string) int {
	s := st(ctx)
	if !aorOf(ctx, s, bytesOf(uri)) {
		ctx.Log(core.LErr, "registrar: unregister: no user in "+core.LogQuote(uri)+"\n")
		return -1
	}
	usrloc.Get(ctx.RT).Table(table).Delete(s.aor)
	return 1
}
