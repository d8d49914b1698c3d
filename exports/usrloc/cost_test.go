package usrloc

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/internal/testsvc"
)

func redisStat(t *testing.T, srv *testsvc.Redis, section, field string) int64 {
	t.Helper()
	s, err := srv.Do("INFO", section)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func redisCommands(t *testing.T, srv *testsvc.Redis) int64 {
	s, _ := srv.Do("INFO", "commandstats")
	var n int64
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "cmdstat_info") || strings.HasPrefix(line, "cmdstat_config") {
			continue
		}
		if _, v, ok := strings.Cut(line, ":calls="); ok {
			c, _, _ := strings.Cut(v, ",")
			k, _ := strconv.ParseInt(c, 10, 64)
			n += k
		}
	}
	return n
}

// sampleContact is a binding as a softphone registers it.
func sampleContact(user string, i int) Contact {
	now := time.Now().Unix()
	return Contact{URI: "sip:" + user + "@198.51.100.7:5060;transport=udp", Q: -1, Expires: now + 3600,
		CallID: fmt.Sprintf("%032x@198.51.100.7", i), CSeq: uint32(i), UserAgent: "Linphone/5.2.0 (belle-sip/5.2.0)",
		Received: "sip:198.51.100.7:41234", Socket: "udp:192.0.2.10:5060", Modified: now}
}

// TestScaling_Costs measures what docs/scaling.md quotes: Redis commands,
// bytes and memory per registration and per lookup, and SQL statements
// per registration, over 2000 AoRs with one binding each.
func TestScaling_Costs(t *testing.T) {
	const n = 2000
	srv := testsvc.StartRedis(t)
	for _, mode := range []int{1, 3} {
		srv.Do("FLUSHALL")
		rt, _ := startRedisNode(t, srv.URL(0), mode)
		tb := Get(rt).Table("location")
		srv.Do("CONFIG", "RESETSTAT")
		mem0 := redisStat(t, srv, "memory", "used_memory")
		for i := range n {
			user := "user" + strconv.Itoa(i)
			if err := tb.Update([]byte(user), func(r *Record) bool {
				r.Contacts = append(r.Contacts[:0], sampleContact(user, i))
				return true
			}); err != nil {
				t.Fatal(err)
			}
		}
		Get(rt).Flush()
		mem1 := redisStat(t, srv, "memory", "used_memory")
		in, out, cmds := redisStat(t, srv, "stats", "total_net_input_bytes"), redisStat(t, srv, "stats", "total_net_output_bytes"), redisCommands(t, srv)
		t.Logf("redis db_mode %d: per registration %.2f commands, %d B sent, %d B received; %d B of Redis memory per AoR",
			mode, float64(cmds)/n, in/n, out/n, (mem1-mem0)/n)
		if mode == 3 {
			srv.Do("CONFIG", "RESETSTAT")
			for i := range n {
				if !has(rt, "user"+strconv.Itoa(i)) {
					t.Fatal("lookup found nothing")
				}
			}
			in, out, cmds := redisStat(t, srv, "stats", "total_net_input_bytes"), redisStat(t, srv, "stats", "total_net_output_bytes"), redisCommands(t, srv)
			t.Logf("redis db_mode 3: per lookup %.2f commands, %d B sent, %d B received", float64(cmds)/n, in/n, out/n)
		}
		rt.Stop()
	}
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("usrloc")
		rt, _ := startRedisNode(t, s.URL(), 3)
		tb := Get(rt).Table("location")
		be := Get(rt).b.(*sqlBackend)
		for round := range 2 {
			be.stmts.Store(0)
			for i := range 200 {
				user := "user" + strconv.Itoa(i)
				if err := tb.Update([]byte(user), func(r *Record) bool {
					c := sampleContact(user, i)
					c.CSeq += uint32(round) // a refresh: the next CSeq
					if len(r.Contacts) == 1 {
						r.Contacts[0] = c
					} else {
						r.Contacts = append(r.Contacts, c)
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
			}
			what := []string{"new binding", "refresh"}[round]
			t.Logf("%s db_mode 3: %.2f statements per registration (%s)", s.Engine, float64(be.stmts.Load())/200, what)
		}
		be.stmts.Store(0)
		for i := range 200 {
			has(rt, "user"+strconv.Itoa(i))
		}
		t.Logf("%s db_mode 3: %.2f statements per lookup", s.Engine, float64(be.stmts.Load())/200)
	})
}
