package usrloc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"kemi/core"
)

// redisBackend keeps the bindings in a Redis server several kemi nodes
// share (modparam("usrloc", "db_url", "redis://HOST:PORT/DB")).
//
// Layout: one hash per AoR, key "kemi:ul:TABLE:AOR", one field per
// binding (its Contact URI) holding the binding as JSON with its own
// expiry time; the key expires with its last binding (PEXPIREAT), and
// readers skip the bindings that ended before it. A batch of the
// persister is one MULTI/EXEC round trip: per AoR DEL + HSET +
// PEXPIREAT, and one PUBLISH for the whole batch.
//
// With db_mode 1 and 2 every node keeps the bindings in memory and the
// PUBLISH on channel "kemi:ul:DB:NODE" carries the batch, which the other nodes
// apply to their memory (a kemi extension: Kamailio's usrloc has no such
// cache sync). A node that lost its subscription reloads every record
// when it is back; when the server came back empty (another run_id),
// it writes every binding it holds instead. With db_mode 3 nothing is
// published: save and lookup read the hash each time.
type redisBackend struct {
	u      *Usrloc
	c      redis.UniversalClient
	where  string // db_url without its password
	prefix string // "kemi:ul:"
	chann  string // redisChannel and the database number
	node   string // random id: a node skips its own messages

	// conns holds idle dedicated connections (a single server or
	// Sentinel, not a Cluster): a command on one skips the pool's health
	// check, a syscall per command that also woke the runtime's monitor
	// thread, measured as a few percent of a REGISTER's CPU.
	conns chan *redis.Conn
	cl    *redis.Client

	br       breaker
	runID    atomic.Value // string: the server's run_id when last seen
	fresh    atomic.Bool  // the server lost our data: write everything
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	reloadMu sync.Mutex
}

const (
	// redisChannel starts the pub/sub channels, followed by the
	// database number (channels are shared by all of a server's
	// databases, and nodes on database 1 must not apply the batches of
	// database 2), ":" and the publishing node's id.
	redisChannel = "kemi:ul:"
	redisTimeout = time.Second
)

// redisOptions turns a db_url into go-redis options: redis://[:pass@]HOST:PORT/DB,
// rediss:// for TLS, redis://...?master_name=M&addr=H2:P2 for Sentinel,
// redis-cluster://HOST:PORT?addr=H2:P2 for a Redis Cluster.
func redisClient(dbURL string, workers int) (redis.UniversalClient, error) {
	pool := workers + 4
	tune := func(proto *int, retries *int, dial, rd, wr *time.Duration, ps *int, ident *bool) {
		*proto = 2 // RESP2: no push notifications to handle
		*retries = -1
		*dial, *rd, *wr = redisTimeout, redisTimeout, redisTimeout
		*ps = pool
		*ident = true
	}
	scheme, rest, _ := strings.Cut(dbURL, "://")
	switch strings.ToLower(scheme) {
	case "redis-cluster":
		o, err := redis.ParseClusterURL("redis://" + rest)
		if err != nil {
			return nil, err
		}
		tune(&o.Protocol, &o.MaxRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.DisableIdentity)
		o.MaxRedirects = 3
		return redis.NewClusterClient(o), nil
	case "redis-sentinel":
		dbURL = "redis://" + rest
	}
	if u, err := url.Parse(dbURL); err == nil && u.Query().Get("master_name") != "" {
		o, err := redis.ParseFailoverURL(dbURL)
		if err != nil {
			return nil, err
		}
		tune(&o.Protocol, &o.MaxRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.DisableIdentity)
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(dbURL)
	if err != nil {
		return nil, err
	}
	tune(&o.Protocol, &o.MaxRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.DisableIdentity)
	o.PipelinePoolSize = -1
	return redis.NewClient(o), nil
}

// redacted drops the password of a URL for logs.
func redacted(dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil {
		return u.Redacted()
	}
	return "redis://..."
}

func openRedis(u *Usrloc, dbURL string, workers int) (*redisBackend, error) {
	c, err := redisClient(dbURL, workers)
	if err != nil {
		return nil, fmt.Errorf(`modparam("usrloc", "db_url", %q): %v`, redacted(dbURL), err)
	}
	var id [6]byte
	rand.Read(id[:])
	b := &redisBackend{u: u, c: c, where: redacted(dbURL), prefix: "kemi:ul:", node: hex.EncodeToString(id[:]), done: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	db := 0
	if cl, ok := c.(*redis.Client); ok {
		db = cl.Options().DB
		b.cl, b.conns = cl, make(chan *redis.Conn, workers+1)
	}
	b.chann = redisChannel + strconv.Itoa(db)
	// The server must answer at start: bindings are loaded from it (a
	// node does not start with an empty view of a shared table).
	if err := b.checkRunID(); err != nil {
		c.Close()
		return nil, fmt.Errorf("usrloc: %s: %w", b.where, err)
	}
	b.fresh.Store(false)
	ready := make(chan struct{})
	go b.watch(ready)
	select {
	case <-ready:
	case <-time.After(3 * redisTimeout):
	}
	return b, nil
}

func (b *redisBackend) desc() string { return b.where }

func (b *redisBackend) close() {
	b.cancel()
	<-b.done
	for b.conns != nil {
		select {
		case cn := <-b.conns:
			cn.Close()
			continue
		default:
		}
		break
	}
	b.c.Close()
}

// do runs fn on a dedicated connection (on the client for a Cluster). A
// connection that failed is closed (the pool drops it when broken); a
// failure that looks like a connection the server closed while it was
// idle (a restarted server) is tried once more on a new one: every
// command of usrloc is idempotent.
func (b *redisBackend) do(fn func(c redis.Cmdable) error) error {
	if b.conns == nil {
		return fn(b.c)
	}
	for try := 0; ; try++ {
		var cn *redis.Conn
		reused := true
		select {
		case cn = <-b.conns:
		default:
			cn, reused = b.cl.Conn(), false
		}
		err := fn(cn)
		if err != nil && err != redis.Nil && !isReplyError(err) {
			cn.Close()
			if try == 0 && reused && !isTimeout(err) && b.ctx.Err() == nil {
				continue
			}
			return err
		}
		select {
		case b.conns <- cn:
		default:
			cn.Close()
		}
		return err
	}
}

// isReplyError reports an error reply of the server (the connection is
// fine).
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func (b *redisBackend) key(table, aor string) string { return b.prefix + table + ":" + aor }

// checkRunID reads the server's run_id; a new one (a restarted server,
// which may have lost what it held) sets fresh.
func (b *redisBackend) checkRunID() error {
	ctx, cancel := context.WithTimeout(b.ctx, redisTimeout)
	defer cancel()
	if _, cluster := b.c.(*redis.ClusterClient); cluster {
		// INFO reaches any one of the cluster's nodes, each with its
		// own run_id: no way to tell a restart. Only check it answers.
		return b.c.Ping(ctx).Err()
	}
	info, err := b.c.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	id := ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "run_id:"); ok {
			id = strings.TrimSpace(v)
		}
	}
	if old, _ := b.runID.Load().(string); old != "" && old != id {
		b.fresh.Store(true)
	}
	b.runID.Store(id)
	return nil
}

func (b *redisBackend) wantFull(error) bool { return b.fresh.Load() }
func (b *redisBackend) written()            {}

// wireContact is a binding in Redis and in the messages between nodes.
type wireItem struct {
	T string    `json:"t"`
	A string    `json:"a"`
	C []Contact `json:"c,omitempty"`
}

// wireBatch is one PUBLISH: "NODE\n" then this as JSON.
type wireBatch struct {
	I []wireItem `json:"i"`
}

// redisChunk bounds the records of one MULTI/EXEC (a full write of a
// large table is several).
const redisChunk = 512

func (b *redisBackend) write(items []item, _ []string, full bool) error {
	if full {
		b.fresh.Store(false)
	}
	for len(items) > 0 {
		n := min(len(items), redisChunk)
		if err := b.writeChunk(items[:n], !full && b.u.mode != 3); err != nil {
			if full {
				b.fresh.Store(true)
			}
			return err
		}
		items = items[n:]
	}
	return nil
}

func (b *redisBackend) writeChunk(items []item, publish bool) error {
	if err := b.br.check(); err != nil {
		return err
	}
	// Each binding is encoded once: the same JSON goes into its hash
	// field and into the PUBLISH to the other nodes.
	vals, err := encodeItems(items)
	if err != nil {
		return err
	}
	var msg []byte
	if publish {
		// "NODE\n" first: a node skips its own batches unread.
		msg = appendBatch(append([]byte(b.node), '\n'), items, vals)
	}
	// The client's read and write timeouts bound the round trip.
	ctx := b.ctx
	err = b.do(func(c redis.Cmdable) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i := range items {
				it := &items[i]
				k := b.key(it.table, it.aor)
				if it.partial {
					b.queuePartial(ctx, p, k, it, vals[i])
					continue
				}
				p.Del(ctx, k)
				if len(it.contacts) > 0 {
					args := make([]any, 0, 2*len(it.contacts))
					var last int64
					for j := range it.contacts {
						c := &it.contacts[j]
						args = append(args, c.URI, vals[i][j])
						last = max(last, c.Expires)
					}
					p.HSet(ctx, k, args...)
					p.ExpireAt(ctx, k, time.Unix(last+1, 0))
				}
			}
			if publish {
				p.Publish(ctx, b.chann+":"+b.node, msg)
			}
			return nil
		})
		return err
	})
	if err == redis.Nil {
		err = nil
	}
	return b.br.done(err)
}

// encodeItems encodes the contacts of each item as JSON, vals[i][j]
// being items[i].contacts[j].
func encodeItems(items []item) ([][][]byte, error) {
	vals := make([][][]byte, len(items))
	for i := range items {
		if len(items[i].contacts) == 0 {
			continue
		}
		vals[i] = make([][]byte, len(items[i].contacts))
		for j := range items[i].contacts {
			v, err := json.Marshal(&items[i].contacts[j])
			if err != nil {
				return nil, err
			}
			vals[i][j] = v
		}
	}
	return vals, nil
}

// appendBatch appends the batch as a wireBatch in JSON, from the contacts
// already encoded (vals, as from encodeItems).
func appendBatch(dst []byte, items []item, vals [][][]byte) []byte {
	dst = append(dst, `{"i":[`...)
	n := 0
	for i := range items {
		if items[i].partial {
			continue // db_mode 3 only, which publishes nothing
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"t":`...)
		dst = appendJSONString(dst, items[i].table)
		dst = append(dst, `,"a":`...)
		dst = appendJSONString(dst, items[i].aor)
		if len(vals[i]) > 0 {
			dst = append(dst, `,"c":[`...)
			for j, v := range vals[i] {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, v...)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// encodeBatch is the PUBLISH payload of node for items.
func (b *redisBackend) encodeBatch(node string, items []item) []byte {
	vals, err := encodeItems(items)
	if err != nil {
		return nil
	}
	return appendBatch(append([]byte(node), '\n'), items, vals)
}

// appendJSONString appends s as a JSON string, as encoding/json writes
// it (invalid UTF-8 becomes U+FFFD; <, >, & and U+2028/9 are escaped).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// queuePartial queues a partial item: HDEL of the bindings gone, HSET
// of those new or changed, and the key's expiry set when it has none
// (NX, a new key) or moved later (GT): another node's longer binding in
// the same hash keeps the key alive. A hash left empty goes by itself.
func (b *redisBackend) queuePartial(ctx context.Context, p redis.Pipeliner, k string, it *item, vals [][]byte) {
	if len(it.removed) > 0 {
		p.HDel(ctx, k, it.removed...)
	}
	if len(it.contacts) == 0 {
		return
	}
	args := make([]any, 0, 2*len(it.contacts))
	for i := range it.contacts {
		args = append(args, it.contacts[i].URI, vals[i])
	}
	p.HSet(ctx, k, args...)
	at := strconv.FormatInt(it.last+1, 10)
	p.Do(ctx, "EXPIREAT", k, at, "NX")
	p.Do(ctx, "EXPIREAT", k, at, "GT")
}

// decodeHash turns a hash into a record, skipping the bindings that
// ended. A field that is not a binding (written by something else, cut
// short) is skipped and logged: one bad field must not make the AoR
// unusable (every save of it would fail).
func (b *redisBackend) decodeHash(aor string, h map[string]string, now int64) *Record {
	r := &Record{AoR: aor}
	for f, v := range h {
		var c Contact
		if err := json.Unmarshal([]byte(v), &c); err != nil || c.URI == "" {
			if err == nil {
				err = errors.New("no uri")
			}
			b.u.logLimited(&badFieldLog, "usrloc: %s: key %q, field %q is not a binding (%v); skipped", b.where, b.prefix+aor, f, err)
			continue
		}
		if c.Expires > now {
			r.Contacts = append(r.Contacts, c)
		}
	}
	if len(r.Contacts) == 0 {
		return nil
	}
	sortContacts(r.Contacts)
	return r
}

// badFieldLog limits the lines about fields that are not bindings.
var badFieldLog = core.LogLimit{What: "usrloc Redis fields that are not bindings"}

func (b *redisBackend) fetch(table, aor string, now int64) (*Record, error) {
	if err := b.br.check(); err != nil {
		return nil, err
	}
	var h map[string]string
	err := b.do(func(c redis.Cmdable) error {
		var err error
		h, err = c.HGetAll(b.ctx, b.key(table, aor)).Result()
		return err
	})
	if err != nil {
		return nil, b.br.done(err)
	}
	return b.decodeHash(aor, h, now), nil
}

// load reads every record: SCAN for the keys, HGETALL pipelined by
// redisChunk.
func (b *redisBackend) load(now int64, fn func(table string, r *Record)) error {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Minute)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := b.c.Scan(ctx, cursor, b.prefix+"*", redisChunk).Result()
		if err != nil {
			return fmt.Errorf("usrloc: loading bindings from %s: %w", b.where, err)
		}
		if len(keys) > 0 {
			cmds := make([]*redis.MapStringStringCmd, len(keys))
			_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.HGetAll(ctx, k)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("usrloc: loading bindings from %s: %w", b.where, err)
			}
			for i, k := range keys {
				table, aor, ok := strings.Cut(strings.TrimPrefix(k, b.prefix), ":")
				if !ok {
					continue
				}
				if r := b.decodeHash(aor, cmds[i].Val(), now); r != nil {
					fn(table, r)
				}
			}
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// watch keeps the subscription to the other nodes' batches, and notices
// when the server was out of reach: after a reconnection it reloads (or
// rewrites, when the server lost its data). ready closes after the first
// subscription.
func (b *redisBackend) watch(ready chan struct{}) {
	defer close(b.done)
	first := true
	lost := false
	for b.ctx.Err() == nil {
		ps := b.c.PSubscribe(b.ctx, b.othersPatterns()...)
		_, err := ps.ReceiveTimeout(b.ctx, 2*redisTimeout)
		if err == nil {
			err = b.checkRunID()
		}
		if err != nil {
			ps.Close()
			if !lost && b.ctx.Err() == nil {
				b.u.logf(core.LErr, "usrloc: %s: subscription lost: %v; reconnecting", b.where, err)
			}
			lost = true
			select {
			case <-b.ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if first {
			first = false
			close(ready)
		} else if lost {
			b.u.logf(core.LNotice, "usrloc: %s: reconnected", b.where)
			b.reconnected()
		}
		lost = false
		b.receive(ps)
		ps.Close()
		lost = true
	}
}

// redisPace is the pause of the subscriber after a batch woke it: the
// batches published meanwhile wait in the socket and are then read
// together, one goroutine wake-up for many instead of one per REGISTER
// of each node (measured: about 20 batches a wake-up at 900 REGISTER/s).
// The network poller still wakes a thread when each one arrives (it is
// edge-triggered); a blocking socket outside it was tried and measured
// worse. It bounds how late a change reaches the other nodes under load;
// a node that hears nothing else applies a batch on arrival.
const redisPace = 20 * time.Millisecond

// redisWoken tells a receive that waited for the network (the
// subscriber was woken) from one served from what was read ahead.
const redisWoken = 200 * time.Microsecond

// othersPatterns are the channel patterns of every node but this one:
// each node publishes on "kemi:ul:DB:NODE", and the patterns match the
// node ids that differ from this one's at position i (and agree before
// it), so that another node's batch matches exactly one pattern and this
// node's own none: the server does not send a node its own batches
// (a third of what each node of three received, each costing a wake-up
// and a read).
func (b *redisBackend) othersPatterns() []string {
	pats := make([]string, 0, len(b.node))
	for i := 0; i < len(b.node); i++ {
		pats = append(pats, b.chann+":"+b.node[:i]+"[^"+b.node[i:i+1]+"]*")
	}
	return pats
}

// receive applies the other nodes' batches until the connection fails:
// a ping that gets no answer within two timeouts ends it.
func (b *redisBackend) receive(ps *redis.PubSub) {
	silent := 0
	pace := time.NewTimer(redisPace)
	pace.Stop()
	for b.ctx.Err() == nil {
		start := time.Now()
		m, err := ps.ReceiveTimeout(b.ctx, redisTimeout)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && silent < 2 {
				silent++
				ps.Ping(b.ctx)
				continue
			}
			if b.ctx.Err() == nil {
				b.u.logf(core.LErr, "usrloc: %s: subscription lost: %v; reconnecting", b.where, err)
			}
			return
		}
		silent = 0
		woken := time.Since(start) > redisWoken
		if msg, ok := m.(*redis.Message); ok && b.u.mode != 3 {
			b.apply(msg.Payload)
			if woken {
				pace.Reset(redisPace)
				select {
				case <-b.ctx.Done():
					return
				case <-pace.C:
				}
			}
		}
	}
}

// apply puts another node's batch into memory.
func (b *redisBackend) apply(payload string) {
	node, body, ok := strings.Cut(payload, "\n")
	if !ok || node == b.node {
		return
	}
	var w wireBatch
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		b.u.logf(core.LErr, "usrloc: %s: bad message on %s: %v", b.where, b.chann, err)
		return
	}
	for _, it := range w.I {
		var r *Record
		if len(it.C) > 0 {
			r = &Record{AoR: it.A, Contacts: it.C}
		}
		b.u.Table(it.T).replace(it.A, r)
	}
}

// reconnected runs after the subscription was lost and is back: a server
// that lost its data gets every binding of this node; otherwise the
// records changed meanwhile by other nodes are read again (db_mode 1, 2).
func (b *redisBackend) reconnected() {
	p := b.u.p
	if b.fresh.Load() {
		b.u.logf(core.LNotice, "usrloc: %s: the server restarted empty; writing every binding again", b.where)
		if p != nil {
			p.signal()
		}
		return
	}
	if b.u.mode == 3 {
		return
	}
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	seen := map[*Table]map[string]bool{}
	now := time.Now().Unix()
	err := b.load(now, func(table string, r *Record) {
		t := b.u.Table(table)
		if seen[t] == nil {
			seen[t] = map[string]bool{}
		}
		seen[t][r.AoR] = true
		t.replace(r.AoR, r)
	})
	if err != nil {
		b.u.logf(core.LErr, "usrloc: %s: reload after reconnecting: %v", b.where, err)
		return
	}
	// Records gone from the server while this node was away.
	for _, t := range b.u.Tables() {
		for _, r := range t.Records() {
			if !seen[t][r.AoR] && !hasStored(r.Contacts) {
				continue
			}
			if !seen[t][r.AoR] {
				t.replace(r.AoR, nil)
			}
		}
	}
	b.u.logf(core.LNotice, "usrloc: %s: reloaded the bindings after reconnecting", b.where)
}

func hasStored(cs []Contact) bool {
	for _, c := range cs {
		if !c.Mem {
			return true
		}
	}
	return false
}

// sortContacts orders bindings read from a hash (which has no order) as
// save made them: oldest change first.
func sortContacts(cs []Contact) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Modified != cs[j].Modified {
			return cs[i].Modified < cs[j].Modified
		}
		return cs[i].URI < cs[j].URI
	})
}
