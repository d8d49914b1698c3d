package loader

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/core/config"
)

// Issue 11: server_signature, server_header and user_agent_header are read
// once at load, and a header that would break every reply is an error.
func TestServerHeader_ReadAtLoad(t *testing.T) {
	for _, c := range []struct {
		src           string
		server, agent string
		err           string
	}{
		{"", core.DefaultServerHeader, core.DefaultUserAgentHeader, ""},
		{"server_header=\"Server: Edge 1\"\nuser_agent_header=\"User-Agent: Edge UA\"\n", "Server: Edge 1", "User-Agent: Edge UA", ""},
		{"server_signature=no\nserver_header=\"Server: Edge 1\"\n", "", "", ""},
		{"server_signature=yes\n", core.DefaultServerHeader, core.DefaultUserAgentHeader, ""},
		{"server_header=\"Edge Proxy\"\n", "", "", `x:1:1: server_header: expected a whole header line like "Server: my proxy", got "Edge Proxy"`},
		{"server_header=\"Server: a\\r\\nX-Evil: 1\"\n", "", "", `x:1:1: server_header: control character '\r' in the value`},
		{"user_agent_header=\"User Agent: x\"\n", "", "", `x:1:1: user_agent_header: header name "User Agent": ' ' is not allowed`},
	} {
		cfg, err := config.Parse("x", []byte(c.src), config.Options{})
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		rt := &core.Runtime{}
		err = setSignature(rt, cfg)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if rt.ServerHeader() != c.server || rt.UserAgentHeader() != c.agent {
			t.Errorf("%q: %q %q, want %q %q", c.src, rt.ServerHeader(), rt.UserAgentHeader(), c.server, c.agent)
		}
	}
}
