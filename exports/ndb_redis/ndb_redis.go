// Package ndb_redis implements module ndb_redis: Kamailio's Redis
// connector for the script. Servers come from the server param in
// Kamailio's form; each is a go-redis client (a pool sized by the
// workers, reconnecting by itself), a cluster client with cluster=1, or a
// failover client for Sentinel. Replies are kept per worker under their
// reply ids, for $redis(id=>...).
//
// The client is github.com/redis/go-redis/v9, the maintained Go client:
// pools, timeouts, reconnection, pipelining, Cluster and Sentinel come
// with it, which is what issue 18 asks for.
package ndb_redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"kemi/core"
)

// Reply types, hiredis's numbers, as $redis(res=>type) and $redisd give them.
const (
	TypeString  = 1
	TypeArray   = 2
	TypeInteger = 3
	TypeNil     = 4
	TypeStatus  = 5
	TypeError   = 6
)

// Bounds on what one worker keeps.
const (
	maxReplies = 64   // reply ids
	maxQueued  = 1000 // commands waiting for redis_execute
	maxDepth   = 8    // nesting kept of an array reply
)

// Server is one server param: a name and the client reaching it.
type Server struct {
	Name   string
	Client redis.UniversalClient
	// Spec is the server param as parsed.
	Spec Spec

	fails     atomic.Int64 // consecutive failed commands
	disabled  atomic.Int64 // unix nanoseconds until which commands fail at once
	needFlush atomic.Bool
}

// Module is a runtime's servers.
type Module struct {
	mu      sync.Mutex
	Servers map[string]*Server
	cmdTO   time.Duration
	allowed int64 // allowed_timeouts; -1 off
	disable time.Duration
	flush   bool
	now     func() time.Time
}

var mods = core.NewRuntimeState[Module](func(*core.Runtime) *Module { return nil })

// Of returns the runtime's module (nil before start).
func Of(rt *core.Runtime) *Module { return mods.Peek(rt) }

// Server returns the server named name, or nil. Other modules (htable's
// redis= attribute) reach Redis through it.
func (m *Module) Server(name string) *Server {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Servers[name]
}

// Spec is a parsed server param.
type Spec struct {
	Name, Addr, Unix, Pass string
	Port, DB               int
	SentinelGroup          string
	SentinelMaster         bool
	Sentinels              []string
}

// ParseServer reads Kamailio's server param:
// name=srv;addr=127.0.0.1;port=6379;db=0;pass=secret, or unix=/path, or
// sentinel_group=G;sentinel_master=1;sentinel=host:port (repeated).
func ParseServer(s string) (Spec, error) {
	sp := Spec{Addr: "127.0.0.1", Port: 6379, SentinelMaster: true}
	for _, kv := range strings.Split(s, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return sp, fmt.Errorf("server %q: %q is not attribute=value", s, kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "name":
			sp.Name = v
		case "addr":
			sp.Addr = v
		case "unix":
			sp.Unix = v
		case "pass":
			sp.Pass = v
		case "port", "db", "sentinel_master":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (k == "port" && n > 65535) {
				return sp, fmt.Errorf("server %q: %s=%q: expected a number", s, k, v)
			}
			switch k {
			case "port":
				sp.Port = n
			case "db":
				sp.DB = n
			default:
				sp.SentinelMaster = n != 0
			}
		case "sentinel_group":
			sp.SentinelGroup = v
		case "sentinel":
			sp.Sentinels = append(sp.Sentinels, v)
		default:
			return sp, fmt.Errorf("server %q: unknown attribute %q (want name, addr, port, unix, db, pass, sentinel_group, sentinel_master, sentinel)", s, k)
		}
	}
	if sp.Name == "" {
		return sp, fmt.Errorf("server %q: no name= (redis_cmd names the server by it)", s)
	}
	if sp.SentinelGroup != "" && len(sp.Sentinels) == 0 {
		return sp, fmt.Errorf("server %q: sentinel_group without sentinel=host:port", s)
	}
	return sp, nil
}

// HostPort is addr:port.
func (sp Spec) HostPort() string { return net.JoinHostPort(sp.Addr, strconv.Itoa(sp.Port)) }

func start(rt *core.Runtime) error {
	m := &Module{Servers: map[string]*Server{}, now: time.Now}
	if rt.Clock != nil {
		clk := rt.Clock
		m.now = func() time.Time { return time.Unix(0, clk.Now()) }
	}
	ms := func(name string) time.Duration {
		return time.Duration(rt.Param("ndb_redis", name).I) * time.Millisecond
	}
	connTO, cmdTO := ms("connect_timeout"), ms("cmd_timeout")
	if connTO <= 0 {
		connTO = time.Second
	}
	if cmdTO <= 0 {
		cmdTO = time.Second
	}
	m.cmdTO = cmdTO
	m.allowed = rt.Param("ndb_redis", "allowed_timeouts").I
	m.disable = time.Duration(rt.Param("ndb_redis", "disable_time").I) * time.Second
	m.flush = rt.Param("ndb_redis", "flush_on_reconnect").I != 0
	pool := 8
	if c, ok := rt.Globals["children"]; ok && c.I > 0 {
		pool = int(c.I) + 2
	}
	var specs []Spec
	for _, v := range rt.ParamValues("ndb_redis", "server") {
		if v.S == "" {
			continue
		}
		sp, err := ParseServer(v.S)
		if err != nil {
			return fmt.Errorf("ndb_redis: %w", err)
		}
		for _, o := range specs {
			if o.Name == sp.Name {
				return fmt.Errorf("ndb_redis: server name %q given twice", sp.Name)
			}
		}
		specs = append(specs, sp)
	}
	var cluster redis.UniversalClient
	if rt.Param("ndb_redis", "cluster").I != 0 && len(specs) > 0 {
		addrs := make([]string, 0, len(specs))
		for _, sp := range specs {
			addrs = append(addrs, sp.HostPort())
		}
		cluster = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: specs[0].Pass,
			DialTimeout: connTO, ReadTimeout: cmdTO, WriteTimeout: cmdTO, PoolSize: pool, Protocol: 2})
	}
	for _, sp := range specs {
		s := &Server{Name: sp.Name, Spec: sp}
		switch {
		case cluster != nil:
			s.Client = cluster
		case sp.SentinelGroup != "":
			s.Client = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sp.SentinelGroup, SentinelAddrs: sp.Sentinels,
				ReplicaOnly: !sp.SentinelMaster, Password: sp.Pass, DB: sp.DB,
				DialTimeout: connTO, ReadTimeout: cmdTO, WriteTimeout: cmdTO, PoolSize: pool, Protocol: 2})
		default:
			o := &redis.Options{Network: "tcp", Addr: sp.HostPort(), Password: sp.Pass, DB: sp.DB,
				DialTimeout: connTO, ReadTimeout: cmdTO, WriteTimeout: cmdTO, PoolSize: pool, Protocol: 2,
				MaxRetries: -1}
			if sp.Unix != "" {
				o.Network, o.Addr = "unix", sp.Unix
			}
			s.Client = redis.NewClient(o)
		}
		m.Servers[sp.Name] = s
	}
	mods.Set(rt, m)
	if rt.Param("ndb_redis", "init_without_redis").I == 0 {
		for _, sp := range specs {
			ctx, cancel := context.WithTimeout(context.Background(), connTO+cmdTO)
			err := m.Servers[sp.Name].Client.Ping(ctx).Err()
			cancel()
			if err != nil {
				stop(rt)
				return fmt.Errorf("ndb_redis: server %q: %v (set init_without_redis to 1 to start anyway)", sp.Name, err)
			}
		}
	}
	return nil
}

func stop(rt *core.Runtime) {
	m := Of(rt)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[redis.UniversalClient]bool{}
	for _, s := range m.Servers {
		if !seen[s.Client] {
			seen[s.Client] = true
			s.Client.Close()
		}
	}
}

// errDisabled is the answer while a server is disabled.
var errDisabled = errors.New("disabled after allowed_timeouts failed commands")

// ready says whether commands may go to s now.
func (m *Module) ready(s *Server) bool {
	until := s.disabled.Load()
	if until == 0 {
		return true
	}
	if m.now().UnixNano() < until {
		return false
	}
	s.disabled.Store(0)
	return true
}

// outcome counts a command's success or failure for allowed_timeouts
// and flush_on_reconnect, logging when the server is disabled.
func (m *Module) outcome(ctx *core.Ctx, s *Server, err error) {
	if err == nil {
		s.fails.Store(0)
		return
	}
	if m.flush {
		s.needFlush.Store(true)
	}
	n := s.fails.Add(1)
	if m.allowed >= 0 && n > m.allowed {
		s.disabled.Store(m.now().Add(m.disable).UnixNano())
		s.fails.Store(0)
		ctx.Log(core.LErr, "ndb_redis: server "+core.LogQuote(s.Name)+": disabled for "+m.disable.String()+" after "+strconv.FormatInt(n, 10)+" failed commands\n")
	}
}

// flushIfNeeded sends FLUSHALL once after a failure, with flush_on_reconnect.
func (m *Module) flushIfNeeded(s *Server) {
	if s.needFlush.Load() && s.Client.FlushAll(context.Background()).Err() == nil {
		s.needFlush.Store(false)
	}
}

// statusCmds answer with a status reply; go-redis gives it as a string.
var statusCmds = map[string]bool{
	"SET": true, "SETEX": true, "PSETEX": true, "MSET": true, "PING": true, "SELECT": true, "FLUSHDB": true,
	"FLUSHALL": true, "AUTH": true, "MULTI": true, "DISCARD": true, "WATCH": true, "UNWATCH": true,
	"RENAME": true, "TYPE": true, "HMSET": true, "LTRIM": true, "LSET": true, "QUIT": true, "SAVE": true,
	"BGSAVE": true, "BGREWRITEAOF": true, "SHUTDOWN": true, "SWAPDB": true, "RESTORE": true, "CLIENT": true,
	"CONFIG": true, "SCRIPT": true, "PFMERGE": true, "XGROUP": true, "READONLY": true, "READWRITE": true,
}

// FormatArgs splits a command at spaces into arguments, putting ps in
// for each %s in order (a %s inside a word joins it: "key:%s"), and %%
// for %, as hiredis's redisFormatCommand does.
func FormatArgs(cmd string, ps ...string) ([]any, error) {
	var out []any
	next := 0
	for _, w := range strings.Fields(cmd) {
		if !strings.Contains(w, "%") {
			out = append(out, w)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(w); i++ {
			if w[i] != '%' || i+1 == len(w) {
				b.WriteByte(w[i])
				continue
			}
			switch w[i+1] {
			case 's':
				if next >= len(ps) {
					return nil, fmt.Errorf("command %s: more %%s than the %d arguments given", core.LogQuote(cmd), len(ps))
				}
				b.WriteString(ps[next])
				next++
				i++
			case '%':
				b.WriteByte('%')
				i++
			default:
				b.WriteByte('%')
			}
		}
		out = append(out, b.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	if next != len(ps) {
		return nil, fmt.Errorf("command %s: %d arguments given for %d %%s", core.LogQuote(cmd), len(ps), next)
	}
	return out, nil
}

// Reply is a kept reply.
type Reply struct {
	Type int
	Str  string // string, status, error text
	Int  int64
	Arr  []*Reply
}

// toReply turns go-redis's result into a Reply; err is nil or a Redis
// error reply (redis.Nil is a nil reply). status says a string is a status.
func toReply(v any, err error, status bool, depth int) *Reply {
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return &Reply{Type: TypeNil}
		}
		return &Reply{Type: TypeError, Str: err.Error()}
	}
	switch x := v.(type) {
	case nil:
		return &Reply{Type: TypeNil}
	case string:
		if status {
			return &Reply{Type: TypeStatus, Str: x}
		}
		return &Reply{Type: TypeString, Str: x}
	case int64:
		return &Reply{Type: TypeInteger, Int: x}
	case []any:
		r := &Reply{Type: TypeArray}
		if depth >= maxDepth {
			return r
		}
		r.Arr = make([]*Reply, len(x))
		for i, e := range x {
			if re, ok := e.(redis.Error); ok {
				r.Arr[i] = &Reply{Type: TypeError, Str: re.Error()}
				continue
			}
			r.Arr[i] = toReply(e, nil, false, depth+1)
		}
		return r
	case redis.Error:
		return &Reply{Type: TypeError, Str: x.Error()}
	default:
		return &Reply{Type: TypeString, Str: fmt.Sprint(x)}
	}
}

// isReplyError says whether err is Redis answering with an error (kept
// as a reply) rather than the command not reaching it.
func isReplyError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

// quiet drops go-redis's own log lines (its pool's dial failures, printed
// to stderr in its format): every failure reaches kemi's log through the
// error line of the function or table that met it.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }
