package main

import (
	"testing"

	"kemi/core/config"
	"kemi/core/loader"
)

func TestMyself(t *testing.T) {
	setup := &loader.Setup{
		Config:  &config.Config{Aliases: []string{"proxy.example.com", "sip.example.com:5080"}},
		Listens: []config.Listen{{Proto: "udp", Host: "127.0.0.1", Port: 5070}, {Proto: "udp", Host: "::1", Port: 5070}},
	}
	my := myself(setup)
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"127.0.0.1", 5070, true},
		{"127.0.0.1", 0, true}, // no port: any port, as Kamailio's check_self
		{"127.0.0.1", 5060, false},
		{"[::1]", 5070, true},
		{"::1", 0, true},
		{"::ffff:127.0.0.1", 5070, true},
		{"127.0.0.2", 0, false},
		{"PROXY.example.com", 5070, true}, // an alias without a port covers our ports
		{"proxy.example.com", 5080, false},
		{"sip.example.com", 5080, true},
		{"sip.example.com", 0, true},
		{"other.example.com", 0, false},
	} {
		if got := my([]byte(c.host), c.port); got != c.want {
			t.Errorf("myself(%s, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
}
