package ndb_redis

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/testsvc"
)

type logBuf struct{ b strings.Builder }

func (l *logBuf) Write(p []byte) (int, error) { return l.b.Write(p) }

// setup starts the module against params and gives a context.
func setup(t *testing.T, params map[string][]core.Value) (*core.Ctx, *logBuf, error) {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("ndb_redis"))
	rt := ctx.RT
	rt.Params = map[string]map[string][]core.Value{"ndb_redis": params}
	lb := &logBuf{}
	rt.Log = &core.Logger{Level: core.LInfo, Out: lb}
	err := start(rt)
	t.Cleanup(func() { stop(rt) })
	return ctx, lb, err
}

func pvGet(ctx *core.Ctx, arg string) (string, bool) {
	b, ok := getRedis(ctx, arg, nil)
	return string(b), ok
}

// TestNdbRedis_ServerParam (issue 18 item 4): Kamailio's server param.
func TestNdbRedis_ServerParam(t *testing.T) {
	sp, err := ParseServer("name=srv;addr=10.0.0.1;port=6380;db=2;pass=secret")
	if err != nil || sp.Name != "srv" || sp.HostPort() != "10.0.0.1:6380" || sp.DB != 2 || sp.Pass != "secret" {
		t.Fatalf("%+v %v", sp, err)
	}
	sp, err = ParseServer("name=z;sentinel_group=g;sentinel_master=0;sentinel=1.2.3.4:26379;sentinel=1.2.3.5:26379")
	if err != nil || sp.SentinelGroup != "g" || sp.SentinelMaster || len(sp.Sentinels) != 2 {
		t.Fatalf("sentinel %+v %v", sp, err)
	}
	for _, c := range []struct{ in, want string }{
		{"addr=127.0.0.1", "no name="},
		{"name=a;port=x", `port="x": expected a number`},
		{"name=a;port=70000", "expected a number"},
		{"name=a;colour=red", `unknown attribute "colour"`},
		{"name=a;addr", "is not attribute=value"},
		{"name=a;sentinel_group=g", "sentinel_group without sentinel"},
	} {
		if _, err := ParseServer(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

// TestNdbRedis_FormatArgs (issue 18 item 4): words at spaces, %s put in
// as one argument, %% a percent sign, counts checked.
func TestNdbRedis_FormatArgs(t *testing.T) {
	args, err := FormatArgs("HMGET %s f:%s  100%%", "key one", "x")
	if err != nil || len(args) != 4 || args[1] != "key one" || args[2] != "f:x" || args[3] != "100%" {
		t.Fatalf("%q %v", args, err)
	}
	for _, c := range []struct {
		cmd string
		ps  []string
	}{{"", nil}, {"   ", nil}, {"GET %s", nil}, {"GET foo", []string{"x"}}} {
		if _, err := FormatArgs(c.cmd, c.ps...); err == nil {
			t.Errorf("%q %q: no error", c.cmd, c.ps)
		}
	}
}

// TestNdbRedis_Commands (issue 18 item 4): redis_cmd and the _p variants,
// every reply type, nested arrays, the pipeline and redis_free against a
// real redis-server.
func TestNdbRedis_Commands(t *testing.T) {
	r := testsvc.StartRedis(t)
	ctx, lb, err := setup(t, map[string][]core.Value{"server": {core.Str("name=srv;addr=127.0.0.1;port=" + strconv.Itoa(r.Port) + ";db=3")}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(got int, what string) {
		t.Helper()
		if got != 1 {
			t.Fatalf("%s = %d; log:\n%s", what, got, lb.b.String())
		}
	}
	must(Cmd(ctx, "srv", "SET foo bar", "r"), "SET")
	if v, _ := pvGet(ctx, "r=>type"); v != "5" {
		t.Fatalf("SET type %s, want 5 (status)", v)
	}
	must(CmdP1(ctx, "srv", "GET %s", "foo", "r"), "GET")
	if v, _ := pvGet(ctx, "r=>value"); v != "bar" {
		t.Fatalf("GET value %q", v)
	}
	must(CmdP2(ctx, "srv", "SET %s %s", "key with space", "v w", "r"), "SET p2")
	must(CmdP1(ctx, "srv", "GET %s", "key with space", "r"), "GET p1")
	if v, _ := pvGet(ctx, "r=>value"); v != "v w" {
		t.Fatalf("GET of a spaced key %q", v)
	}
	must(Cmd(ctx, "srv", "INCR cnt", "n"), "INCR")
	if v, _ := pvGet(ctx, "n=>value"); v != "1" {
		t.Fatalf("INCR %q", v)
	}
	if v, _ := pvGet(ctx, "n=>type"); v != "3" {
		t.Fatalf("INCR type %q", v)
	}
	must(Cmd(ctx, "srv", "GET missing", "r"), "GET missing")
	if v, ok := pvGet(ctx, "r=>value"); ok {
		t.Fatalf("nil value %q", v)
	}
	if v, _ := pvGet(ctx, "r=>type"); v != "4" {
		t.Fatalf("nil type %q", v)
	}
	must(Cmd(ctx, "srv", "HSET h f1 a f2 b", "r"), "HSET")
	must(CmdP3(ctx, "srv", "HMGET %s %s %s", "h", "f1", "nope", "r"), "HMGET")
	if v, _ := pvGet(ctx, "r=>size"); v != "2" {
		t.Fatalf("HMGET size %q", v)
	}
	if v, _ := pvGet(ctx, "r=>value[0]"); v != "a" {
		t.Fatalf("value[0] %q", v)
	}
	if v, _ := pvGet(ctx, "r=>type[1]"); v != "4" {
		t.Fatalf("type[1] %q", v)
	}
	// An error reply is a reply: 1, type 6, the text in info.
	must(Cmd(ctx, "srv", "INCR foo", "e"), "INCR of a string")
	if v, _ := pvGet(ctx, "e=>type"); v != "6" {
		t.Fatalf("error type %q", v)
	}
	if v, _ := pvGet(ctx, "e=>info"); !strings.Contains(v, "not an integer") {
		t.Fatalf("error info %q", v)
	}
	// MULTI/EXEC: an array in an array.
	must(Cmd(ctx, "srv", "SADD s m1", "x"), "SADD")
	must(Cmd(ctx, "srv", "MULTI", "x"), "MULTI")
	must(Cmd(ctx, "srv", "SMEMBERS s", "x"), "SMEMBERS")
	must(Cmd(ctx, "srv", "EXEC", "x"), "EXEC")
	if v, _ := pvGet(ctx, "x=>value[0]=>size"); v != "1" {
		t.Fatalf("value[0]=>size %q", v)
	}
	if v, _ := pvGet(ctx, "x=>value[0]=>value[0]"); v != "m1" {
		t.Fatalf("value[0]=>value[0] %q", v)
	}
	// The pipeline: replies under their ids after redis_execute.
	must(PipeCmd(ctx, "srv", "SET p1 one", "a"), "pipe 1")
	must(PipeCmdP1(ctx, "srv", "GET %s", "p1", "b"), "pipe 2")
	if _, ok := pvGet(ctx, "b=>value"); ok {
		t.Fatal("a queued command has a reply before redis_execute")
	}
	must(Execute(ctx, "srv"), "execute")
	if v, _ := pvGet(ctx, "b=>value"); v != "one" {
		t.Fatalf("pipelined GET %q", v)
	}
	if Execute(ctx, "srv") != -1 {
		t.Fatal("execute with nothing queued")
	}
	// redis_free.
	if Free(ctx, "b") != 1 || Free(ctx, "b") != -1 {
		t.Fatal("redis_free")
	}
	if _, ok := pvGet(ctx, "b=>value"); ok {
		t.Fatal("a freed reply still reads")
	}
	// The db= attribute: db 3, not 0.
	if v, _ := getRedisd(ctx, "rpl_err", nil); string(v) != "6" {
		t.Fatalf("$redisd(rpl_err) %q", v)
	}
	if Cmd(ctx, "nope", "PING", "r") != -1 || !strings.Contains(lb.b.String(), `no server "nope"`) {
		t.Fatal("unknown server")
	}
}

// TestNdbRedis_Bounds (issue 18 item 4): a worker keeps at most 64 reply
// ids and 1000 queued commands.
func TestNdbRedis_Bounds(t *testing.T) {
	r := testsvc.StartRedis(t)
	ctx, _, err := setup(t, map[string][]core.Value{"server": {core.Str("name=srv;addr=127.0.0.1;port=" + strconv.Itoa(r.Port))}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxReplies; i++ {
		if Cmd(ctx, "srv", "PING", "r"+strconv.Itoa(i)) != 1 {
			t.Fatal(i)
		}
	}
	if Cmd(ctx, "srv", "PING", "one-more") != -1 || Cmd(ctx, "srv", "PING", "r0") != 1 {
		t.Fatal("reply id bound")
	}
	for i := 0; i < maxQueued; i++ {
		PipeCmd(ctx, "srv", "PING", "r1")
	}
	if PipeCmd(ctx, "srv", "PING", "r1") != -1 || Execute(ctx, "srv") != 1 {
		t.Fatal("queue bound")
	}
}

// TestNdbRedis_DownTimeoutsReconnect (issue 18 item 4): a stopped server
// fails commands within cmd_timeout, is disabled after allowed_timeouts
// failures (-2 at once), and serves again when back: go-redis reconnects.
// A paused (hung) server fails within cmd_timeout too. Without
// init_without_redis a server down at start stops kemi from starting.
func TestNdbRedis_DownTimeoutsReconnect(t *testing.T) {
	r := testsvc.StartRedis(t)
	srv := core.Str("name=srv;addr=127.0.0.1;port=" + strconv.Itoa(r.Port))
	ctx, lb, err := setup(t, map[string][]core.Value{"server": {srv}, "cmd_timeout": {core.Int(300)},
		"allowed_timeouts": {core.Int(1)}, "disable_time": {core.Int(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if Cmd(ctx, "srv", "SET k v", "r") != 1 {
		t.Fatal("first SET")
	}
	r.Pause()
	t0 := time.Now()
	if Cmd(ctx, "srv", "GET k", "r") != -1 {
		t.Fatal("a hung server answered")
	}
	if el := time.Since(t0); el > time.Second {
		t.Fatalf("a hung server held the worker %v, over cmd_timeout", el)
	}
	r.Resume()
	r.Stop()
	if Cmd(ctx, "srv", "GET k", "r") != -1 {
		t.Fatal("a stopped server answered")
	}
	t0 = time.Now()
	if got := Cmd(ctx, "srv", "GET k", "r"); got != -2 || time.Since(t0) > 50*time.Millisecond {
		t.Fatalf("disabled server: %d after %v, want -2 at once", got, time.Since(t0))
	}
	if !strings.Contains(lb.b.String(), "disabled for 1s after 2 failed commands") {
		t.Fatalf("log %s", lb.b.String())
	}
	r.Start()
	time.Sleep(1100 * time.Millisecond)
	if Cmd(ctx, "srv", "SET k v2", "r") != 1 {
		t.Fatalf("no reconnect; log %s", lb.b.String())
	}
	// Down at start.
	r.Stop()
	if _, _, err := setup(t, map[string][]core.Value{"server": {srv}, "connect_timeout": {core.Int(200)}}); err == nil || !strings.Contains(err.Error(), "init_without_redis") {
		t.Fatalf("start with the server down: %v", err)
	}
	if _, _, err := setup(t, map[string][]core.Value{"server": {srv}, "init_without_redis": {core.Int(1)}}); err != nil {
		t.Fatalf("init_without_redis=1: %v", err)
	}
}

// BenchmarkNdbRedis_Cmd (issue 18 item 4): one redis_cmd round trip, and
// a pipeline of 10 commands.
func BenchmarkNdbRedis_Cmd(b *testing.B) {
	r := testsvc.StartRedis(b)
	ctx := ksrtest.Ctx(b, ksrtest.Invite(), ksrtest.Discard, core.Known("ndb_redis"))
	ctx.RT.Params = map[string]map[string][]core.Value{"ndb_redis": {"server": {core.Str("name=srv;addr=127.0.0.1;port=" + strconv.Itoa(r.Port))}}}
	if err := start(ctx.RT); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stop(ctx.RT) })
	b.Run("redis_cmd", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if CmdP1(ctx, "srv", "GET %s", "k", "r") != 1 {
				b.Fatal("GET")
			}
		}
	})
	b.Run("pipe10", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for j := 0; j < 10; j++ {
				PipeCmd(ctx, "srv", "INCR c", "r")
			}
			if Execute(ctx, "srv") != 1 {
				b.Fatal("execute")
			}
		}
	})
}
