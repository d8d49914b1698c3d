package pike

import (
	"errors"
	"net/netip"
	"sort"
	"strings"

	"kemi/core"
)

// TopEntry is one address in pike.top.
type TopEntry struct {
	IP           string `json:"ip_addr"`
	LeafHitsPrev int    `json:"leaf_hits_prev"`
	LeafHitsCurr int    `json:"leaf_hits_curr"`
	Status       string `json:"status"` // HOT (blocked) or WARM
}

// Top lists the addresses in the tree: "HOT" the blocked ones, "WARM"
// those with hits but not blocked, "ALL" both; sorted by hits, most
// first, as Kamailio's pike.top.
func (t *Tree) Top(filter string) []TopEntry {
	var out []TopEntry
	path := make([]byte, 0, 16)
	var walk func(n *node)
	walk = func(n *node) {
		path = append(path, n.b)
		if n.flags&flagIPLeaf != 0 && (len(path) == 4 || len(path) == 16) {
			status := "WARM"
			if n.flags&flagRed != 0 {
				status = "HOT"
			}
			if filter == "ALL" || filter == status {
				a, _ := netip.AddrFromSlice(path)
				out = append(out, TopEntry{IP: a.String(), LeafHitsPrev: int(n.leafHits[prev]), LeafHitsCurr: int(n.leafHits[curr]), Status: status})
			}
		}
		for _, k := range n.kids {
			walk(k)
		}
		path = path[:len(path)-1]
	}
	for i := range t.branches {
		br := &t.branches[i]
		br.mu.Lock()
		if br.root != nil {
			walk(br.root)
		}
		br.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].LeafHitsPrev+out[i].LeafHitsCurr, out[j].LeafHitsPrev+out[j].LeafHitsCurr
		if a != b {
			return a > b
		}
		return out[i].IP < out[j].IP
	})
	return out
}

// pike.top [ALL|HOT|WARM]: the tracked addresses (HOT by default).
func rpcTop(rt *core.Runtime, args []core.Value) (any, error) {
	st := states.Peek(rt)
	if st == nil {
		return nil, errors.New("pike.top: pike is not running")
	}
	filter := "HOT"
	if len(args) > 0 {
		filter = strings.ToUpper(args[0].String())
	}
	switch filter {
	case "ALL", "HOT", "WARM":
	default:
		return nil, errors.New(`pike.top: filter ` + filter + `: expected "ALL", "HOT" or "WARM"`)
	}
	top := st.tree.Top(filter)
	if top == nil {
		top = []TopEntry{}
	}
	return top, nil
}
