package ndb_redis

import (
	"context"

	"github.com/redis/go-redis/v9"
	"strconv"
	"strings"

	"kemi/core"
)

// queued is a command waiting for redis_execute.
type queued struct {
	srv, res string
	args     []any
	status   bool
}

// state is a worker's replies and queued commands, kept from one message
// to the next as Kamailio keeps them per process.
type state struct {
	replies map[string]*Reply
	queue   []queued
}

var msgState = core.NewMsgState(func(old *state) state {
	if old.replies == nil {
		old.replies = map[string]*Reply{}
	}
	return state{replies: old.replies, queue: old.queue}
})

// server finds srv for fn, logging why not.
func server(ctx *core.Ctx, fn, srv string) (*Module, *Server) {
	m := Of(ctx.RT)
	s := m.Server(srv)
	if s == nil {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": no server "+core.LogQuote(srv)+` (modparam("ndb_redis", "server", "name=`+srv+`;addr=127.0.0.1;port=6379"))`+"\n")
		return nil, nil
	}
	return m, s
}

// keep stores r under res, within maxReplies ids.
func keep(ctx *core.Ctx, fn string, st *state, res string, r *Reply) bool {
	if _, ok := st.replies[res]; !ok && len(st.replies) >= maxReplies {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": "+strconv.Itoa(maxReplies)+" reply ids kept already; redis_free one (reply "+core.LogQuote(res)+" not kept)\n")
		return false
	}
	st.replies[res] = r
	return true
}

func cmdName(args []any) string { return strings.ToUpper(args[0].(string)) }

// cmd runs one command now; queued ones for srv go first (logged), as
// Kamailio does.
func cmd(ctx *core.Ctx, fn, srv, command, res string, ps ...string) int {
	m, s := server(ctx, fn, srv)
	if s == nil {
		return -1
	}
	args, err := FormatArgs(command, ps...)
	if err != nil {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": "+err.Error()+"\n")
		return -1
	}
	st := msgState.Get(ctx)
	for _, q := range st.queue {
		if q.srv == srv {
			ctx.Log(core.LWarn, "ndb_redis: "+fn+": commands queued for "+core.LogQuote(srv)+" are sent first (call redis_execute before redis_cmd)\n")
			if r := execute(ctx, fn, srv); r < 0 {
				return r
			}
			break
		}
	}
	if !m.ready(s) {
		return -2
	}
	m.flushIfNeeded(s)
	c, cancel := context.WithTimeout(context.Background(), m.cmdTO)
	v, err := s.Client.Do(c, args...).Result()
	cancel()
	if !isReplyError(err) {
		m.outcome(ctx, s, err)
		ctx.Log(core.LErr, "ndb_redis: "+fn+": server "+core.LogQuote(srv)+": "+core.LogQuote(cmdName(args))+": "+err.Error()+"\n")
		return -1
	}
	m.outcome(ctx, s, nil)
	if !keep(ctx, fn, st, res, toReply(v, err, statusCmds[cmdName(args)], 0)) {
		return -1
	}
	return 1
}

// Cmd is redis_cmd.
func Cmd(ctx *core.Ctx, srv, command, res string) int {
	return cmd(ctx, "redis_cmd", srv, command, res)
}

// CmdP1 is redis_cmd_p1.
func CmdP1(ctx *core.Ctx, srv, command, p1, res string) int {
	return cmd(ctx, "redis_cmd_p1", srv, command, res, p1)
}

// CmdP2 is redis_cmd_p2.
func CmdP2(ctx *core.Ctx, srv, command, p1, p2, res string) int {
	return cmd(ctx, "redis_cmd_p2", srv, command, res, p1, p2)
}

// CmdP3 is redis_cmd_p3.
func CmdP3(ctx *core.Ctx, srv, command, p1, p2, p3, res string) int {
	return cmd(ctx, "redis_cmd_p3", srv, command, res, p1, p2, p3)
}

func pipe(ctx *core.Ctx, fn, srv, command, res string, ps ...string) int {
	if _, s := server(ctx, fn, srv); s == nil {
		return -1
	}
	args, err := FormatArgs(command, ps...)
	if err != nil {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": "+err.Error()+"\n")
		return -1
	}
	st := msgState.Get(ctx)
	if len(st.queue) >= maxQueued {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": "+strconv.Itoa(maxQueued)+" commands queued already; call redis_execute\n")
		return -1
	}
	st.queue = append(st.queue, queued{srv: srv, res: res, args: args, status: statusCmds[cmdName(args)]})
	return 1
}

// PipeCmd is redis_pipe_cmd.
func PipeCmd(ctx *core.Ctx, srv, command, res string) int {
	return pipe(ctx, "redis_pipe_cmd", srv, command, res)
}

// PipeCmdP1 is redis_pipe_cmd_p1.
func PipeCmdP1(ctx *core.Ctx, srv, command, p1, res string) int {
	return pipe(ctx, "redis_pipe_cmd_p1", srv, command, res, p1)
}

// Execute is redis_execute.
func Execute(ctx *core.Ctx, srv string) int { return execute(ctx, "redis_execute", srv) }

func execute(ctx *core.Ctx, fn, srv string) int {
	m, s := server(ctx, fn, srv)
	if s == nil {
		return -1
	}
	st := msgState.Get(ctx)
	var mine []queued
	rest := st.queue[:0]
	for _, q := range st.queue {
		if q.srv == srv {
			mine = append(mine, q)
		} else {
			rest = append(rest, q)
		}
	}
	st.queue = rest
	if len(mine) == 0 {
		ctx.Log(core.LErr, "ndb_redis: "+fn+": no commands queued for "+core.LogQuote(srv)+"\n")
		return -1
	}
	if !m.ready(s) {
		return -2
	}
	m.flushIfNeeded(s)
	c, cancel := context.WithTimeout(context.Background(), m.cmdTO)
	defer cancel()
	p := s.Client.Pipeline()
	for _, q := range mine {
		p.Do(c, q.args...)
	}
	cmds, err := p.Exec(c)
	if nerr := firstNetErr(cmds); nerr != nil || len(cmds) != len(mine) {
		if nerr != nil {
			err = nerr
		}
		m.outcome(ctx, s, err)
		ctx.Log(core.LErr, "ndb_redis: "+fn+": server "+core.LogQuote(srv)+": "+strconv.Itoa(len(mine))+" commands: "+err.Error()+"\n")
		return -1
	}
	m.outcome(ctx, s, nil)
	ok := 1
	for i, q := range mine {
		rc, _ := cmds[i].(*redis.Cmd)
		if rc == nil {
			ok = -1
			continue
		}
		v, cerr := rc.Result()
		if !keep(ctx, fn, st, q.res, toReply(v, cerr, q.status, 0)) {
			ok = -1
		}
	}
	return ok
}

// firstNetErr is the first error of cmds that is not a Redis reply.
func firstNetErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); !isReplyError(err) {
			return err
		}
	}
	return nil
}

// Free is redis_free.
func Free(ctx *core.Ctx, res string) int {
	st := msgState.Get(ctx)
	if _, ok := st.replies[res]; !ok {
		return -1
	}
	delete(st.replies, res)
	return 1
}

// getRedis is $redis(res=>key[=>key...]).
func getRedis(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	res, path, ok := strings.Cut(arg, "=>")
	if !ok {
		return dst, false
	}
	r := msgState.Get(ctx).replies[strings.TrimSpace(res)]
	for r != nil {
		key, more, _ := strings.Cut(path, "=>")
		key = strings.TrimSpace(key)
		name, idx, hasIdx := index(key)
		if hasIdx {
			if idx < 0 || r.Type != TypeArray || idx >= len(r.Arr) {
				return dst, false
			}
			e := r.Arr[idx]
			if more != "" && name == "value" {
				r, path = e, more
				continue
			}
			r = e
		} else if more != "" {
			return dst, false
		}
		switch name {
		case "type":
			return strconv.AppendInt(dst, int64(r.Type), 10), true
		case "value":
			switch r.Type {
			case TypeString, TypeStatus:
				return append(dst, r.Str...), true
			case TypeInteger:
				return strconv.AppendInt(dst, r.Int, 10), true
			}
			return dst, false
		case "info":
			if r.Type == TypeError {
				return append(dst, r.Str...), true
			}
			return dst, false
		case "size":
			if r.Type == TypeArray {
				return strconv.AppendInt(dst, int64(len(r.Arr)), 10), true
			}
			return dst, false
		}
		return dst, false
	}
	return dst, false
}

// index splits "value[3]" into "value", 3.
func index(key string) (string, int, bool) {
	i := strings.IndexByte(key, '[')
	if i < 0 || !strings.HasSuffix(key, "]") {
		return key, 0, false
	}
	n, err := strconv.Atoi(key[i+1 : len(key)-1])
	if err != nil {
		return key, -1, true
	}
	return key[:i], n, true
}

// getRedisd is $redisd(rpl_str|...): the reply type numbers.
func getRedisd(_ *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	n := map[string]int{"rpl_str": TypeString, "rpl_arr": TypeArray, "rpl_int": TypeInteger,
		"rpl_nil": TypeNil, "rpl_sts": TypeStatus, "rpl_err": TypeError}[arg]
	if n == 0 {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(n), 10), true
}
