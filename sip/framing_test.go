package sip

import "testing"

func TestMessageLen(t *testing.T) {
	msg := "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nl: 3\r\n\r\nabc"
	for _, tc := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{msg, len(msg), false},
		{msg + "INVITE sip:next", len(msg), false},
		{msg[:len(msg)-1], 0, false},
		{msg[:20], 0, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", 39, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", 0, true},
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 70000\r\n\r\n", 0, true},
	} {
		n, err := MessageLen([]byte(tc.in))
		if n != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("MessageLen(%q) = %d, %v; want %d", tc.in, n, err, tc.want)
		}
	}
	if SkipKeepAlive([]byte("\r\n\r\nOPTIONS")) != 4 {
		t.Error("SkipKeepAlive")
	}
}
