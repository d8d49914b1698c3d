package transport

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SetParam sets the field a Kamailio core parameter names, from its value
// as written in the config. It reports false for a name it does not know.
// Durations are in seconds, as in Kamailio; tcp_max_message_size and
// tcp_connection_max_lifetime are kemi's own.
//
//	tcp_connection_lifetime      IdleTimeout (s)
//	tcp_connection_max_lifetime  MaxLifetime (s; kemi)
//	tcp_msg_read_timeout         MessageTimeout (s)
//	tcp_msg_data_timeout         FirstDataTimeout (s)
//	tcp_max_connections          MaxTCP
//	tls_max_connections          MaxTLS
//	tcp_connect_timeout          ConnectTimeout (s)
//	tcp_send_timeout             SendTimeout (s)
//	tcp_accept_no_cl             AcceptNoCL (yes/no)
//	tcp_crlf_ping                !NoCRLFPong (yes/no)
//	tcp_max_message_size         MaxMessage (bytes; kemi)
//	tcp_children                 Workers
//	tcp_conn_wq_max              WriteQueue (bytes)
func (c *StreamConfig) SetParam(name, value string) (known bool, err error) {
	v := strings.TrimSpace(value)
	secs := func(d *time.Duration) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: expected a number of seconds >= 0, got %q", name, value)
		}
		if n == 0 {
			*d = -1 // off
		} else {
			*d = time.Duration(n) * time.Second
		}
		return nil
	}
	num := func(p *int, min int) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("%s: expected a number >= %d, got %q", name, min, value)
		}
		*p = n
		return nil
	}
	boolean := func(p *bool) error {
		switch strings.ToLower(v) {
		case "yes", "on", "true", "1":
			*p = true
		case "no", "off", "false", "0":
			*p = false
		default:
			return fmt.Errorf("%s: expected yes or no, got %q", name, value)
		}
		return nil
	}
	switch name {
	case "tcp_connection_lifetime":
		return true, secs(&c.IdleTimeout)
	case "tcp_connection_max_lifetime":
		return true, secs(&c.MaxLifetime)
	case "tcp_msg_read_timeout":
		return true, secs(&c.MessageTimeout)
	case "tcp_msg_data_timeout":
		return true, secs(&c.FirstDataTimeout)
	case "tcp_max_connections":
		return true, num(&c.MaxTCP, 1)
	case "tls_max_connections":
		return true, num(&c.MaxTLS, 1)
	case "tcp_connect_timeout":
		return true, secs(&c.ConnectTimeout)
	case "tcp_send_timeout":
		return true, secs(&c.SendTimeout)
	case "tcp_accept_no_cl":
		return true, boolean(&c.AcceptNoCL)
	case "tcp_crlf_ping":
		var on bool
		err := boolean(&on)
		c.NoCRLFPong = !on
		return true, err
	case "tcp_max_message_size":
		return true, num(&c.MaxMessage, 64)
	case "tcp_children":
		return true, num(&c.Workers, 1)
	case "tcp_conn_wq_max":
		return true, num(&c.WriteQueue, 1024)
	}
	return false, nil
}
