package rtpengine

import (
	"errors"
	"fmt"
	"time"
)

// The rtpengine.* RPC commands, as Go functions (rpc_methods.go serves
// them). url is a node URL or "all".

// NodeInfo is one node as rtpengine.show gives it.
type NodeInfo struct {
	URL      string `json:"url"`
	Set      int    `json:"set"`
	Index    int    `json:"index"`
	Weight   int    `json:"weight"`
	Disabled bool   `json:"disabled"`
	Manual   bool   `json:"manual"`    // disabled by rtpengine.enable, stays so
	Recheck  int64  `json:"recheck_s"` // seconds until a disabled node is pinged again
}

var errNoSuchNode = errors.New("no such node")

func (c *Client) match(url string) ([]*Node, error) {
	var ns []*Node
	for _, n := range c.Nodes() {
		if url == "all" || n.URL == url {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("rtpengine: %q: %w", url, errNoSuchNode)
	}
	return ns, nil
}

// Show is rtpengine.show.
func (c *Client) Show(url string) ([]NodeInfo, error) {
	ns, err := c.match(url)
	if err != nil {
		return nil, err
	}
	out := make([]NodeInfo, 0, len(ns))
	now := c.Now()
	for _, n := range ns {
		i := NodeInfo{URL: n.URL, Set: n.Set, Weight: n.Weight, Manual: n.manual.Load()}
		for k, x := range c.Set(n.Set).Nodes {
			if x == n {
				i.Index = k
			}
		}
		i.Disabled = !c.Enabled(n)
		if d := n.disabled.Load(); d != 0 && !i.Manual {
			i.Recheck = int64(time.Unix(0, d).Sub(now).Seconds())
			if i.Recheck < 0 {
				i.Recheck = 0
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// Enable is rtpengine.enable url 0|1. Enabling pings the node first, as
// Kamailio does; one that does not answer stays disabled (an error).
func (c *Client) Enable(url string, on bool) error {
	ns, err := c.match(url)
	if err != nil {
		return err
	}
	var failed []string
	for _, n := range ns {
		if !on {
			c.SetEnabled(n, false)
			continue
		}
		c.SetEnabled(n, true)
		if !c.Ping(n) {
			failed = append(failed, n.URL)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("rtpengine: enable: %v do not answer ping; left disabled for rtpengine_disable_tout", failed)
	}
	return nil
}

// PingNodes is rtpengine.ping: each node's answer, true for pong.
func (c *Client) PingNodes(url string) (map[string]bool, error) {
	ns, err := c.match(url)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ns))
	for _, n := range ns {
		if n.manual.Load() {
			out[n.URL] = false
			continue
		}
		out[n.URL] = c.Ping(n)
	}
	return out, nil
}

// Reload is rtpengine.reload: kemi reads nodes from rtpengine_sock only
// (no db_url), so, as Kamailio without a database, it says so.
func (c *Client) Reload() error {
	return errors.New("rtpengine: reload: no db_url configured; nodes come from rtpengine_sock")
}

// HashTotal is rtpengine.get_hash_total: calls in the call → node map.
func (c *Client) HashTotal() int { return c.calls.Len() }
