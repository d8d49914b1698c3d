package rtpengine

import (
	"net/netip"
	"strings"
	"testing"
)

var netipLoop = netip.MustParseAddrPort("127.0.0.1:5062")

type testLog struct{ t testing.TB }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
