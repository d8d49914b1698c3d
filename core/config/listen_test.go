package config

import "testing"

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		want Listen
		err  string
	}{
		{in: "udp:127.0.0.1:5060", want: Listen{Proto: "udp", Host: "127.0.0.1", Port: 5060}},
		{in: "127.0.0.1", want: Listen{Host: "127.0.0.1"}},
		{in: "127.0.0.1:5080", want: Listen{Host: "127.0.0.1", Port: 5080}},
		{in: "tcp:[::1]:5061", want: Listen{Proto: "tcp", Host: "::1", Port: 5061}},
		{in: "[::1]", want: Listen{Host: "::1"}},
		{in: "::1", want: Listen{Host: "::1"}},
		{in: "UDP:eth0:5060", want: Listen{Proto: "udp", Host: "eth0", Port: 5060}},
		{in: "ws:sip.example.com:8080", want: Listen{Proto: "ws", Host: "sip.example.com", Port: 8080}},
		{in: "udp:10.0.0.1:5060 advertise 1.2.3.4:5080", want: Listen{Proto: "udp", Host: "10.0.0.1", Port: 5060, AdvHost: "1.2.3.4", AdvPort: 5080}},
		{in: "udp:10.0.0.1:5060/1.2.3.4", want: Listen{Proto: "udp", Host: "10.0.0.1", Port: 5060, AdvHost: "1.2.3.4"}},
		{in: "udp:10.0.0.1 ADVERTISE pub.example.com name \"x y\" virtual", want: Listen{Proto: "udp", Host: "10.0.0.1", AdvHost: "pub.example.com", Name: "x y"}},
		{in: "", err: "listen: empty value; want [proto:]host[:port]"},
		{in: "udp:1.2.3.4:99999", err: `listen "udp:1.2.3.4:99999": port 99999 out of range 1-65535`},
		{in: "udp:1.2.3.4:abc", err: `listen "udp:1.2.3.4:abc": port "abc" is not a number`},
		{in: "udp:[::1:5060", err: `listen "udp:[::1:5060": missing ] after IPv6 address`},
		{in: "udp:[1.2.3.4]:5060", err: `listen "udp:[1.2.3.4]:5060": "1.2.3.4" is not an IPv6 address`},
		{in: "udp:", err: `listen "udp:": missing host`},
		{in: "udp:a b", err: `listen "udp:a b": unexpected "b"; want advertise, name, virtual, agname or vrf`},
		{in: "udp:h$t", err: `listen "udp:h$t": "h$t" is not an IP address, host or interface name`},
		{in: "udp:1.2.3.4 advertise", err: `listen "udp:1.2.3.4 advertise": advertise needs host[:port] after it`},
		{in: "udp:1.2.3.4 advertise tcp:5.6.7.8", err: `listen "udp:1.2.3.4 advertise tcp:5.6.7.8": advertise "tcp:5.6.7.8": no protocol allowed here`},
	}
	for _, tt := range tests {
		got, err := ParseListen(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseListen(%q) error %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseListen(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseListen(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
