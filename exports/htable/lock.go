package htable

import (
	"time"

	"kemi/core"
)

// sht_lock and sht_unlock serialize scripts' read-modify-write of an item
// across workers, as Kamailio's slot locks do. The lock is per shard (as
// Kamailio's is per slot) and separate from the lock guarding the data,
// so sht_get and friends never block on it, and it is re-entrant for the
// worker holding it. A script that forgets sht_unlock, or fails between
// the two, does not wedge the server: the worker's next htable call for
// another message frees the locks it still holds, and a waiting sht_lock
// gives up after LockWait.

// LockWait bounds how long sht_lock waits for another worker.
var LockWait = time.Second

type held struct {
	sh    *shard
	count int
}

type locks struct {
	held  []held
	timer *time.Timer
}

// releaseStale frees the locks an earlier message of this worker left
// behind; every htable call of a new message does it.
func (l *locks) releaseStale() {
	for _, h := range l.held {
		<-h.sh.script
	}
	clear(l.held)
	l.held = l.held[:0]
}

func workerLocks(ctx *core.Ctx) *locks { return &cached(ctx).locks }

// Lock is sht_lock.
func Lock(ctx *core.Ctx, tname, key string) int {
	t := tableOrLog(ctx, "sht_lock", tname)
	if t == nil {
		return -1
	}
	sh := t.shard(key)
	l := workerLocks(ctx)
	for i := range l.held {
		if l.held[i].sh == sh {
			l.held[i].count++
			return 1
		}
	}
	select {
	case sh.script <- struct{}{}:
	default:
		if l.timer == nil {
			l.timer = time.NewTimer(LockWait)
		} else {
			l.timer.Reset(LockWait)
		}
		select {
		case sh.script <- struct{}{}:
			l.timer.Stop()
		case <-l.timer.C:
			ctx.Log(core.LErr, "htable: sht_lock: "+tname+": waited "+LockWait.String()+" for another worker's lock\n")
			return -1
		}
	}
	l.held = append(l.held, held{sh, 1})
	return 1
}

// Unlock is sht_unlock.
func Unlock(ctx *core.Ctx, tname, key string) int {
	t := tableOrLog(ctx, "sht_unlock", tname)
	if t == nil {
		return -1
	}
	sh := t.shard(key)
	l := workerLocks(ctx)
	for i := range l.held {
		if l.held[i].sh != sh {
			continue
		}
		if l.held[i].count--; l.held[i].count == 0 {
			<-sh.script
			l.held[i] = l.held[len(l.held)-1]
			l.held[len(l.held)-1] = held{}
			l.held = l.held[:len(l.held)-1]
		}
		return 1
	}
	ctx.Log(core.LErr, "htable: sht_unlock: "+tname+": this worker does not hold the lock of "+core.LogQuote(key)+"\n")
	return -1
}
