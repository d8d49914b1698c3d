package loader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kemi/core/config"
)

type myCase struct {
	host string
	port int
	want bool
}

func checkMyself(t *testing.T, my func([]byte, int) bool, cases []myCase) {
	t.Helper()
	for _, c := range cases {
		if got := my([]byte(c.host), c.port); got != c.want {
			t.Errorf("myself(%s, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
}

func TestMyself(t *testing.T) {
	aliases := []config.Alias{{Host: "proxy.example.com"}, {Host: "sip.example.com", Port: 5080}}
	listens := []config.Listen{{Proto: "udp", Host: "127.0.0.1", Port: 5070}, {Proto: "udp", Host: "::1", Port: 5070}}
	checkMyself(t, Myself(listens, aliases, nil), []myCase{
		{"127.0.0.1", 5070, true},
		{"127.0.0.1", 0, true}, // no port: any port, as Kamailio's check_self
		{"127.0.0.1", 5060, false},
		{"[::1]", 5070, true},
		{"::1", 0, true},
		{"::ffff:127.0.0.1", 5070, true},
		{"127.0.0.2", 0, false},
		{"PROXY.example.com", 5070, true}, // an alias without a port is any port
		{"proxy.example.com", 5080, true},
		{"sip.example.com", 5080, true},
		{"sip.example.com", 5070, false},
		{"sip.example.com", 0, true},
		{"other.example.com", 0, false},
		{"", 0, false},
	})
}

// The alias forms of issue 11, read from a config: proto:host:port and
// "host":port match only that port, a plain host any port.
func TestAliasForms_MatchAsKamailio(t *testing.T) {
	cfg, err := config.Parse("x", []byte("listen=udp:127.0.0.1:5070\n"+
		"alias=udp:a.example.com:5080\n"+
		"alias=\"b.example.com\":5090\n"+
		"alias=c.example.com\n"+
		"alias=\"d.example.com\" tcp:e.example.com\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkMyself(t, Myself(cfg.Listens, cfg.Aliases, nil), []myCase{
		{"a.example.com", 5080, true},
		{"A.EXAMPLE.COM", 0, true},
		{"a.example.com", 5070, false},
		{"b.example.com", 5090, true},
		{"b.example.com", 5060, false},
		{"b.example.com", 0, true},
		{"c.example.com", 5060, true},
		{"c.example.com", 12345, true},
		{"d.example.com", 1, true},
		{"e.example.com", 5070, true},
		{"f.example.com", 5070, false},
	})
}

func TestAutoAliases_ReverseNamesOfListenAddresses(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("# comment\n127.0.0.1 localhost loopy # x\n127.0.0.2 other\n::1 ip6-localhost\n"), 0o644)
	old := HostsFile
	HostsFile = hosts
	defer func() { HostsFile = old }()
	calls := 0
	lookup := func(ctx context.Context, addr string) ([]string, error) {
		calls++
		if addr == "127.0.0.1" {
			return []string{"host.example.net.", "localhost"}, nil
		}
		return nil, errors.New("no PTR")
	}
	listens := []config.Listen{{Proto: "udp", Host: "127.0.0.1", Port: 5070}}
	my := Myself(listens, nil, lookup)
	if calls != 1 {
		t.Errorf("%d lookups, want 1 per listen address", calls)
	}
	checkMyself(t, my, []myCase{
		{"localhost", 5070, true},
		{"localhost", 0, true},
		{"localhost", 5071, false}, // an auto alias has its socket's port
		{"loopy", 5070, true},
		{"host.example.net", 5070, true},
		{"other", 5070, false},
		{"ip6-localhost", 5070, false},
	})
	// Without auto_aliases, none of those.
	checkMyself(t, Myself(listens, nil, nil), []myCase{{"localhost", 5070, false}})
}

func TestAutoAliases_SlowResolverIsBounded(t *testing.T) {
	old := HostsFile
	HostsFile = filepath.Join(t.TempDir(), "none")
	defer func() { HostsFile = old }()
	oldT := AutoAliasTimeout
	AutoAliasTimeout = 200 * time.Millisecond
	defer func() { AutoAliasTimeout = oldT }()
	lookup := func(ctx context.Context, addr string) ([]string, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	start := time.Now()
	Myself([]config.Listen{{Host: "127.0.0.1", Port: 5060}, {Host: "127.0.0.2", Port: 5060}}, nil, lookup)
	if d := time.Since(start); d > AutoAliasTimeout+time.Second {
		t.Errorf("took %v", d)
	}
}

func TestMyself_NoAllocs(t *testing.T) {
	my := Myself([]config.Listen{{Host: "127.0.0.1", Port: 5060}}, []config.Alias{{Host: "sip.example.com"}}, nil)
	h1, h2 := []byte("SIP.example.com"), []byte("127.0.0.1")
	if n := testing.AllocsPerRun(100, func() { my(h1, 5060); my(h2, 0) }); n != 0 {
		t.Errorf("%v allocs per check", n)
	}
}
