package tm

import (
	"errors"

	"kemi/core"
)

// tm.stats: {"current": N, ...} as Kamailio's tm.stats; kemi counts the
// transactions in memory only so far.
func rpcStats(rt *core.Runtime, _ []core.Value) (any, error) {
	t := tms.Peek(rt)
	if t == nil {
		return nil, errors.New("tm.stats: tm is not running")
	}
	return map[string]any{"current": t.Live()}, nil
}
