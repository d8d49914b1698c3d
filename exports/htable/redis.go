package htable

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"kemi/core"
	"kemi/exports/ndb_redis"
)

// A table with the redis= attribute (kemi's) is shared through Redis:
// every node keeps the table in memory as before, so reads cost no round
// trip, and every change is written to Redis and published on the
// table's channel in one MULTI, which the other nodes apply to their own
// copy. Items are the keys "kemi:htable:<table>:<key>" (a string item as
// "s:<value>", an integer as its digits) with the item's expiry as the
// key's TTL, so Redis expires them as autoexpire does. sht_inc and
// sht_dec run in Redis (a script), atomic across nodes. A node loads the
// table from Redis when it starts, when its subscription (re)connects
// after Redis was away, and on the htable.reload RPC. Changes made while
// Redis was away stay on the node and are written back first.

// syncTimeout bounds one write to Redis.
const syncTimeout = time.Second

// redisSync shares one table through Redis.
type redisSync struct {
	t      *Table
	c      redis.UniversalClient
	own    bool   // c is this table's own client (closed at stop)
	node   string // this node's id, in its messages (for a look with redis-cli)
	prefix string // "kemi:htable:<table>:"
	ch     string // "kemi:htable:<table>"
	log    *core.Logger

	mu          sync.Mutex
	downUntil   time.Time       // writes skip Redis until then
	pending     map[string]bool // keys changed while Redis was away
	lostPending int
	ps          *redis.PubSub
	cancel      context.CancelFunc
	done        chan struct{}
}

// update is one change as published.
type update struct {
	Node string `json:"n"`
	Op   string `json:"o"` // s: set, d: delete, r: reset
	Key  string `json:"k,omitempty"`
	Val  string `json:"v,omitempty"`
	TTL  int64  `json:"t,omitempty"` // ms; 0 never expires
}

// addScript adds to an integer item in Redis: a missing item starts from
// the initval (ARGV[2], "" for none: the add fails), a string item fails;
// the expiry is restarted (ARGV[3] ms) for a new item or with
// updateexpire, else kept. The change is published like any other.
var addScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local new = false
if not v then
  if ARGV[2] == '' then return false end
  v = ARGV[2]
  new = true
elseif string.sub(v, 1, 2) == 's:' then
  return false
end
local n = tonumber(v)
if not n then return false end
n = n + tonumber(ARGV[1])
local px = tonumber(ARGV[3])
if px > 0 and (new or ARGV[4] == '1') then
  redis.call('SET', KEYS[1], string.format('%d', n), 'PX', px)
else
  redis.call('SET', KEYS[1], string.format('%d', n), 'KEEPTTL')
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
redis.call('PUBLISH', ARGV[5], cjson.encode({n = ARGV[6], o = 's', k = ARGV[7], v = string.format('%d', n), t = ttl}))
return {n, ttl}
`)

func encode(it item) string {
	if it.str {
		return "s:" + it.s
	}
	return strconv.FormatInt(it.n, 10)
}

func decode(v string) item {
	if s, ok := strings.CutPrefix(v, "s:"); ok {
		return item{s: s, str: true}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return item{s: v, str: true}
	}
	return item{n: n}
}

// ttlOf is the ms left of an item's expiry; 0 never, -1 expired.
func (rs *redisSync) ttlOf(it item) int64 {
	if it.exp == 0 || rs.t.Autoexpire == 0 {
		return 0
	}
	ms := (it.exp - rs.t.now()) / int64(time.Millisecond)
	if ms <= 0 {
		return -1
	}
	return ms
}

func (rs *redisSync) expOf(ttl int64) int64 {
	if ttl <= 0 {
		return 0
	}
	return rs.t.now() + ttl*int64(time.Millisecond)
}

func (rs *redisSync) errorf(format string, a ...any) {
	if rs.log != nil {
		rs.log.Log(core.LErr, nil, fmt.Sprintf("htable: table %s (redis=%s): %s\n", rs.t.Name, rs.t.Redis, fmt.Sprintf(format, a...)))
	}
}

func (rs *redisSync) publish(ctx context.Context, p redis.Pipeliner, u update) {
	u.Node = rs.node
	b, _ := json.Marshal(u)
	p.Publish(ctx, rs.ch, b)
}

// set writes an item set on this node.
func (rs *redisSync) set(key string, it item) {
	if rs.isDown(key) {
		return
	}
	ttl := rs.ttlOf(it)
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	_, err := rs.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		switch {
		case ttl < 0:
			p.Del(ctx, rs.prefix+key)
			rs.publish(ctx, p, update{Op: "d", Key: key})
			return nil
		case ttl > 0:
			p.Set(ctx, rs.prefix+key, encode(it), time.Duration(ttl)*time.Millisecond)
		default:
			p.Set(ctx, rs.prefix+key, encode(it), 0)
		}
		rs.publish(ctx, p, update{Op: "s", Key: key, Val: encode(it), TTL: ttl})
		return nil
	})
	if err != nil {
		rs.failed(key, err, "set")
	}
}

// del removes an item on every node.
func (rs *redisSync) del(key string) {
	if rs.isDown(key) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	_, err := rs.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, rs.prefix+key)
		rs.publish(ctx, p, update{Op: "d", Key: key})
		return nil
	})
	if err != nil {
		rs.failed(key, err, "delete")
	}
}

// keys lists the table's keys in Redis.
func (rs *redisSync) keys(ctx context.Context) ([]string, error) {
	var out []string
	it := rs.c.Scan(ctx, 0, rs.prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		out = append(out, it.Val())
	}
	return out, it.Err()
}

// reset empties the table on every node.
func (rs *redisSync) reset() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*syncTimeout)
	defer cancel()
	ks, err := rs.keys(ctx)
	if err == nil {
		_, err = rs.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < len(ks); i += 1000 {
				p.Del(ctx, ks[i:min(i+1000, len(ks))]...)
			}
			rs.publish(ctx, p, update{Op: "r"})
			return nil
		})
	}
	if err != nil {
		rs.errorf("reset: %v (emptied on this node only)", err)
	}
}

// add is sht_inc/sht_dec in Redis.
func (rs *redisSync) add(key string, d int64) (n int64, ok, done bool) {
	if rs.isDown(key) {
		return 0, false, false // counted on this node, written back later
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	init := ""
	if rs.t.HasInit {
		init = strconv.FormatInt(rs.t.Init, 10)
	}
	upd := "0"
	if rs.t.UpdateExpire {
		upd = "1"
	}
	res, err := addScript.Run(ctx, rs.c, []string{rs.prefix + key}, d, init, rs.t.Autoexpire.Milliseconds(), upd, rs.ch, rs.node, key).Slice()
	if errors.Is(err, redis.Nil) {
		return 0, false, true
	}
	if err != nil || len(res) != 2 {
		if err == nil {
			err = fmt.Errorf("unexpected reply %v", res)
		}
		rs.failed(key, err, "add")
		return 0, false, false
	}
	// The node's copy takes the new value from the published change, in
	// Redis's order, not from here: a later change may have come first.
	n, _ = res[0].(int64)
	return n, true, true
}

// downFor is how long writes skip Redis after one failed: they are kept
// on this node and written back when the subscription is up again,
// rather than each waiting out syncTimeout.
const downFor = time.Second

// maxPending bounds the keys remembered for writing back.
const maxPending = 100000

// isDown says whether Redis failed within downFor; key is then
// remembered for the write-back.
func (rs *redisSync) isDown(key string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.downUntil.IsZero() || time.Now().After(rs.downUntil) {
		return false
	}
	rs.remember(key)
	return true
}

// failed logs a failed write, remembers key and marks Redis down.
func (rs *redisSync) failed(key string, err error, what string) {
	rs.mu.Lock()
	first := rs.downUntil.IsZero()
	rs.downUntil = time.Now().Add(downFor)
	rs.remember(key)
	rs.mu.Unlock()
	if first {
		rs.errorf("%s %s: %v; writes stay on this node and go to Redis when it is back", what, core.LogQuote(key), err)
	}
}

func (rs *redisSync) remember(key string) {
	if rs.pending == nil {
		rs.pending = map[string]bool{}
	}
	if len(rs.pending) < maxPending {
		rs.pending[key] = true
	} else {
		rs.lostPending++
	}
}

// writeBack sends what this node changed while Redis was away: each
// remembered key as this node holds it now (or its deletion).
func (rs *redisSync) writeBack() {
	rs.mu.Lock()
	keys := rs.pending
	lost := rs.lostPending
	rs.pending, rs.lostPending, rs.downUntil = nil, 0, time.Time{}
	rs.mu.Unlock()
	if lost > 0 {
		rs.errorf("%d changes made while Redis was away are not written back (over %d)", lost, maxPending)
	}
	for k := range keys {
		if it, ok := rs.t.Get(k); ok {
			rs.set(k, it)
		} else {
			rs.del(k)
		}
	}
}

// load reads the whole table from Redis into this node's copy: items
// there are set, items here that Redis does not have are removed.
func (rs *redisSync) load(ctx context.Context) (int, error) {
	// Only items this node held before the scan may be removed for not
	// being in Redis: one set while the load runs is newer than the scan.
	before := map[string]bool{}
	rs.t.Each(func(k string, _ *item) action {
		before[k] = true
		return keep
	})
	ks, err := rs.keys(ctx)
	if err != nil {
		return 0, err
	}
	seen := make(map[string]bool, len(ks))
	for i := 0; i < len(ks); i += 500 {
		batch := ks[i:min(i+500, len(ks))]
		p := rs.c.Pipeline()
		gets := make([]*redis.StringCmd, len(batch))
		ttls := make([]*redis.DurationCmd, len(batch))
		for j, k := range batch {
			gets[j] = p.Get(ctx, k)
			ttls[j] = p.PTTL(ctx, k)
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		for j, k := range batch {
			v, err := gets[j].Result()
			if err != nil {
				continue // gone meanwhile
			}
			key := strings.TrimPrefix(k, rs.prefix)
			it := decode(v)
			if d := ttls[j].Val(); d > 0 {
				it.exp = rs.expOf(d.Milliseconds())
			}
			rs.t.setLocal(key, it)
			seen[key] = true
		}
	}
	for k := range before {
		if !seen[k] {
			rs.t.deleteLocal(k)
		}
	}
	return len(seen), nil
}

// apply applies a published change.
func (rs *redisSync) apply(payload string) {
	var u update
	// A node applies its own changes too: every node then ends at the
	// last change in Redis's order, as Redis does, even when two nodes
	// write one key at once.
	if json.Unmarshal([]byte(payload), &u) != nil {
		return
	}
	switch u.Op {
	case "s":
		it := decode(u.Val)
		it.exp = rs.expOf(u.TTL)
		rs.t.setLocal(u.Key, it)
	case "d":
		rs.t.deleteLocal(u.Key)
	case "r":
		rs.t.resetLocal()
	}
}

// listen follows the table's channel until stop; each (re)subscription
// loads the table, so what was missed while Redis was away is caught up.
func (rs *redisSync) listen(ctx context.Context) {
	defer close(rs.done)
	for ctx.Err() == nil {
		msg, err := rs.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				rs.writeBack()
				lctx, cancel := context.WithTimeout(ctx, 10*syncTimeout)
				if n, err := rs.load(lctx); err != nil {
					rs.errorf("load: %v", err)
				} else if rs.log != nil {
					rs.log.Log(core.LInfo, nil, fmt.Sprintf("htable: table %s: %d items loaded from Redis\n", rs.t.Name, n))
				}
				cancel()
			}
		case *redis.Message:
			rs.apply(m.Payload)
		}
	}
}

// client builds the Redis client of ref: a redis:// URL, or the name of
// an ndb_redis server param.
func client(rt *core.Runtime, tname, ref string) (redis.UniversalClient, error) {
	if strings.HasPrefix(ref, "redis://") || strings.HasPrefix(ref, "rediss://") || strings.HasPrefix(ref, "unix://") {
		o, err := redis.ParseURL(ref)
		if err != nil {
			return nil, fmt.Errorf("htable %s: redis=%s: %v", tname, ref, err)
		}
		o.Protocol = 2
		return redis.NewClient(o), nil
	}
	for _, v := range rt.ParamValues("ndb_redis", "server") {
		sp, err := ndb_redis.ParseServer(v.S)
		if err != nil || sp.Name != ref {
			continue
		}
		if sp.SentinelGroup != "" {
			return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sp.SentinelGroup, SentinelAddrs: sp.Sentinels,
				Password: sp.Pass, DB: sp.DB, Protocol: 2}), nil
		}
		o := &redis.Options{Network: "tcp", Addr: sp.HostPort(), Password: sp.Pass, DB: sp.DB, Protocol: 2}
		if sp.Unix != "" {
			o.Network, o.Addr = "unix", sp.Unix
		}
		return redis.NewClient(o), nil
	}
	return nil, fmt.Errorf(`htable %s: redis=%s: no ndb_redis server named %s; add modparam("ndb_redis", "server", "name=%s;addr=127.0.0.1;port=6379") or give redis=redis://host:port/db`, tname, ref, ref, ref)
}

// startSync shares t through Redis: the first load, then the listener.
func startSync(rt *core.Runtime, t *Table) error {
	c, err := client(rt, t.Name, t.Redis)
	if err != nil {
		return err
	}
	var id [8]byte
	rand.Read(id[:])
	rs := &redisSync{t: t, c: c, own: true, node: hex.EncodeToString(id[:]), prefix: "kemi:htable:" + t.Name + ":",
		ch: "kemi:htable:" + t.Name, log: rt.Log, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	rs.cancel = cancel
	// Subscribe before the first load (the subscription's confirmation
	// triggers it), so no change between the two is missed.
	rs.ps = c.Subscribe(ctx, rs.ch)
	t.sync = rs
	go rs.listen(ctx)
	return nil
}

// stop ends the listener and closes the client.
func (rs *redisSync) stop() {
	rs.mu.Lock()
	cancel := rs.cancel
	rs.cancel = nil
	rs.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	rs.ps.Close()
	<-rs.done // the listener may take rs.mu: not held here
	if rs.own {
		rs.c.Close()
	}
}
