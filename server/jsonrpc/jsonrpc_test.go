package jsonrpc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

func testMethods() *Methods {
	ms := New(nil)
	ms.Add("test.echo", "Echo the args.", func(_ *core.Runtime, args []core.Value) (any, error) {
		out := []any{}
		for _, a := range args {
			if a.Kind == core.KInt {
				out = append(out, a.I)
			} else {
				out = append(out, a.String())
			}
		}
		return out, nil
	})
	ms.Add("test.panic", "Panic.", func(*core.Runtime, []core.Value) (any, error) { panic("boom") })
	ms.Add("test.fail", "Fail.", func(*core.Runtime, []core.Value) (any, error) { return nil, fmt.Errorf("no luck") })
	return ms
}

func TestRPC_Handle(t *testing.T) {
	ms := testMethods()
	for _, c := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","method":"test.echo","params":["a",2,"3"],"id":1}`, `{"jsonrpc":"2.0","result":["a",2,"3"],"id":1}`},
		{`{"jsonrpc":"2.0","method":"test.echo","params":{"x":"ip","y":2},"id":"q"}`, `{"jsonrpc":"2.0","result":["ip",2],"id":"q"}`},
		{`{"jsonrpc":"2.0","method":"nope","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method Not Found"},"id":1}`},
		{`{"jsonrpc":"2.0","method":"test.panic","id":1}`, `{"jsonrpc":"2.0","error":{"code":500,"message":"test.panic: internal error: boom"},"id":1}`},
		{`{"jsonrpc":"2.0","method":"test.fail","id":1}`, `{"jsonrpc":"2.0","error":{"code":500,"message":"no luck"},"id":1}`},
		{`{"jsonrpc":"2.0","id":1}`, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request: no method"},"id":1}`},
		{`{"jsonrpc":"2.0","method":"test.echo","params":5,"id":1}`, `{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid Params: params must be an array or an object"},"id":1}`},
		{`{"jsonrpc":"2.0","method":"system.methodHelp","params":["test.echo"],"id":1}`, `{"jsonrpc":"2.0","result":"Echo the args.","id":1}`},
	} {
		got := strings.TrimSpace(string(ms.Handle([]byte(c.in))))
		if got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if out := ms.Handle([]byte(`{"jsonrpc":"2.0","method":"test.echo"}`)); out != nil {
		t.Errorf("notification answered: %s", out)
	}
	out := ms.Handle([]byte(`{not json`))
	if !strings.Contains(string(out), `"code":-32700`) {
		t.Errorf("garbage: %s", out)
	}
}

func TestRPC_HostileOversizedRefused(t *testing.T) {
	ms := testMethods()
	big := `{"jsonrpc":"2.0","method":"test.echo","params":["` + strings.Repeat("a", MaxRequest) + `"],"id":1}`
	out := ms.Handle([]byte(big))
	if !strings.Contains(string(out), "over the limit") {
		t.Errorf("oversized: %s", out)
	}
}

func FuzzRPC_Decode(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","method":"test.echo","params":["a",2],"id":1}`))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"x","params":{"a":{"b":[1,2]},"c":null},"id":[1]}`))
	f.Add([]byte(`[`))
	ms := testMethods()
	f.Fuzz(func(t *testing.T, b []byte) {
		out := ms.Handle(b)
		if out != nil && !json.Valid(out) {
			t.Fatalf("invalid response %q", out)
		}
	})
}

func dgramClient(t *testing.T, dir string) *net.UnixConn {
	t.Helper()
	local := filepath.Join(dir, fmt.Sprintf("c%d.sock", time.Now().UnixNano()))
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, &net.UnixAddr{Name: filepath.Join(dir, "rpc.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); os.Remove(local) })
	return c
}

func TestRPC_DgramSocketAndFlood(t *testing.T) {
	dir := t.TempDir()
	d, err := ListenDgram(testMethods(), filepath.Join(dir, "rpc.sock"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go d.Serve()
	defer d.Close()
	fi, _ := os.Stat(d.Path())
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := ListenDgram(testMethods(), d.Path(), 0o600); err == nil {
		t.Errorf("second listener on a live socket accepted")
	}
	c := dgramClient(t, dir)
	ask := func(req string) string {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<17)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%.60s: %v", req, err)
		}
		return string(buf[:n])
	}
	if got := ask(`{"jsonrpc":"2.0","method":"test.echo","params":["hi"],"id":7}`); !strings.Contains(got, `"result":["hi"]`) {
		t.Errorf("echo: %s", got)
	}
	if got := ask(`{"jsonrpc":"2.0","method":"test.echo","params":["` + strings.Repeat("x", MaxRequest+10) + `"],"id":7}`); !strings.Contains(got, "over the limit") {
		t.Errorf("oversized datagram: %s", got)
	}
	// A flood of garbage from a client that never reads: memory stays bounded.
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := dgramClient(t, dir)
	junk := []byte(strings.Repeat("{[\"", 2000))
	for i := 0; i < 3000; i++ {
		f.SetWriteDeadline(time.Now().Add(5 * time.Millisecond))
		f.Write(junk)
	}
	// Its replies queue at its socket and count against the server's send
	// buffer until it reads or goes away (the kernel's accounting for Unix
	// datagrams); once gone, others are answered again.
	f.Close()
	if got := ask(`{"jsonrpc":"2.0","method":"test.echo","params":[1],"id":8}`); !strings.Contains(got, `"id":8`) && !strings.Contains(got, `"result"`) {
		t.Errorf("after flood: %s", got)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapInuse > before.HeapInuse+32<<20 {
		t.Errorf("heap grew from %d to %d under a flood", before.HeapInuse, after.HeapInuse)
	}
}

func TestRPC_Fifo(t *testing.T) {
	dir := t.TempDir()
	f, err := ListenFifo(testMethods(), filepath.Join(dir, "rpc.fifo"), dir, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go f.Serve()
	defer f.Close()
	reply := filepath.Join(dir, "reply")
	if err := syscallMkfifo(reply); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(reply)
		got <- string(b)
	}()
	time.Sleep(50 * time.Millisecond)
	w, err := os.OpenFile(filepath.Join(dir, "rpc.fifo"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("garbage}\n{\"jsonrpc\": \"2.0\", \"method\": \"test.echo\", \"params\": [\"a}\"],\n \"reply_name\": \"reply\", \"id\": 1}\n"))
	w.Close()
	select {
	case s := <-got:
		if !strings.Contains(s, `"result":["a}"]`) {
			t.Errorf("fifo reply: %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply on the FIFO")
	}
}

// TestRPC_DgramTooLargeAnswer: an answer larger than a datagram can carry
// comes back as an error, not as silence.
func TestRPC_DgramTooLargeAnswer(t *testing.T) {
	dir := t.TempDir()
	ms := testMethods()
	ms.Add("test.big", "Big.", func(*core.Runtime, []core.Value) (any, error) { return strings.Repeat("x", 64<<20), nil })
	d, err := ListenDgram(ms, filepath.Join(dir, "rpc.sock"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go d.Serve()
	defer d.Close()
	c := dgramClient(t, dir)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(`{"jsonrpc":"2.0","method":"test.big","id":1}`))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "too large for one datagram") {
		t.Errorf("big answer: %s %v", buf[:n], err)
	}
}

// TestRPC_DefaultFolderMustBeOurs: the default socket's folder (in /tmp
// for a user without XDG_RUNTIME_DIR) is refused when others may write it
// or it is a symlink.
func TestRPC_DefaultFolderMustBeOurs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kemi")
	os.Mkdir(dir, 0o700)
	if err := checkOwnDir(dir); err != nil {
		t.Errorf("own 0700 folder: %v", err)
	}
	os.Chmod(dir, 0o777)
	if err := checkOwnDir(dir); err == nil {
		t.Errorf("world-writable folder accepted")
	}
	os.Chmod(dir, 0o700)
	link := dir + "-link"
	os.Symlink(dir, link)
	if err := checkOwnDir(link); err == nil {
		t.Errorf("symlink accepted")
	}
}
