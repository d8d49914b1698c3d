//go:build !linux

package usrloc

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// blockingDialer is nil off Linux: the subscriber uses the client's own
// connections.
func blockingDialer(*tls.Config, time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil
}
