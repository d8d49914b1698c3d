package jsonrpc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultSocket is where the datagram socket is when dgram_socket is not
// set: /run/kemi/kemi_rpc.sock for root (Kamailio's is
// /run/kamailio/kamailio_rpc.sock), else $XDG_RUNTIME_DIR/kemi/kemi_rpc.sock,
// else /tmp/kemi-<uid>/kemi_rpc.sock.
func DefaultSocket() string { return filepath.Join(DefaultRunDir(), "kemi_rpc.sock") }

// DefaultRunDir is the folder of DefaultSocket.
func DefaultRunDir() string {
	if os.Geteuid() == 0 {
		return "/run/kemi"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "kemi")
	}
	return fmt.Sprintf("/tmp/kemi-%d", os.Geteuid())
}

// Dgram serves requests on a Unix datagram socket, one document per
// datagram, the reply sent to the sender's bound address (kamcmd and
// kamcli bind one) in one datagram.
type Dgram struct {
	ms   *Methods
	conn *net.UnixConn
	path string
	wg   sync.WaitGroup
}

// ListenDgram binds path with the given mode (0660 in Kamailio), making
// its folder (0700) when missing. A stale socket file (no one listening)
// is replaced; a live one is an error.
func ListenDgram(ms *Methods, path string, mode os.FileMode) (*Dgram, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dgram_socket %s: %w", path, err)
	}
	if dir == DefaultRunDir() {
		// The default folder may be in /tmp: it must be ours, a real
		// folder, and writable by no one else, or another local user
		// could swap the socket.
		if err := checkOwnDir(dir); err != nil {
			return nil, fmt.Errorf("dgram_socket %s: %w", path, err)
		}
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.Dial("unixgram", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("dgram_socket %s: another process is listening on it", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o177)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("dgram_socket %s: %w", path, err)
	}
	conn.SetReadBuffer(4 * MaxRequest)
	// Replies queued at a client that does not read count against the
	// sender's buffer until read (at most net.unix.max_dgram_qlen of them
	// per client).
	conn.SetWriteBuffer(4 << 20)
	if err := os.Chmod(path, mode); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dgram_socket %s: %w", path, err)
	}
	return &Dgram{ms: ms, conn: conn, path: path}, nil
}

// Path is the socket's path.
func (d *Dgram) Path() string { return d.path }

// Serve answers requests until Close. One goroutine reads and handles in
// turn, so a flood queues in the socket's bounded buffer, not in memory.
func (d *Dgram) Serve() {
	d.wg.Add(1)
	defer d.wg.Done()
	buf := make([]byte, MaxRequest+1)
	for {
		n, from, err := d.conn.ReadFromUnix(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var out []byte
		if n > MaxRequest {
			out = encode(response{JSONRPC: "2.0", ID: []byte("null"),
				Error: &Error{CodeParse, fmt.Sprintf("Parse Error: request over the limit of %d bytes", MaxRequest)}})
		} else {
			out = d.ms.Handle(buf[:n])
		}
		if out == nil || from == nil || from.Name == "" {
			continue
		}
		d.reply(out, from.Name)
	}
}

// reply sends without waiting: a client that does not read its socket
// loses its answer instead of stalling the server.
func (d *Dgram) reply(out []byte, to string) {
	rc, err := d.conn.SyscallConn()
	if err != nil {
		return
	}
	var serr error
	rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), out, syscall.MSG_DONTWAIT, &syscall.SockaddrUnix{Name: to})
		return true
	})
	if errors.Is(serr, syscall.EMSGSIZE) || errors.Is(serr, syscall.ENOBUFS) {
		// Too big for one datagram: the client gets told so rather than
		// waiting for an answer that never comes.
		small := encode(response{JSONRPC: "2.0", ID: []byte("null"), Error: &Error{CodeFault,
			fmt.Sprintf("the result (%d bytes) is too large for one datagram; ask for less (ul.lookup, htable.get)", len(out))}})
		rc.Write(func(fd uintptr) bool {
			syscall.Sendto(int(fd), small, syscall.MSG_DONTWAIT, &syscall.SockaddrUnix{Name: to})
			return true
		})
	}
}

// Close stops Serve and removes the socket file.
func (d *Dgram) Close() error {
	err := d.conn.Close()
	d.wg.Wait()
	os.Remove(d.path)
	return err
}

// Fifo serves requests written to a named pipe: one JSON document per
// write, with reply_name naming the reply FIFO in replyDir (jsonrpcs'
// fifo_reply_dir, /tmp/ by default).
type Fifo struct {
	ms       *Methods
	path     string
	replyDir string
	f        *os.File
	wg       sync.WaitGroup
}

// ListenFifo makes the FIFO at path (replacing a FIFO left there) with
// mode.
func ListenFifo(ms *Methods, path, replyDir string, mode os.FileMode) (*Fifo, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeNamedPipe == 0 {
			return nil, fmt.Errorf("fifo_name %s: exists and is not a FIFO", path)
		}
		os.Remove(path)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("fifo_name %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return nil, fmt.Errorf("fifo_name %s: %w", path, err)
	}
	// Opened read-write so that it never sees EOF between writers.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("fifo_name %s: %w", path, err)
	}
	if replyDir == "" {
		replyDir = "/tmp/"
	}
	return &Fifo{ms: ms, path: path, replyDir: replyDir, f: f}, nil
}

// Serve reads documents until Close. A document ends at a newline
// outside of strings once its braces balance; one larger than MaxRequest
// is dropped up to its end.
func (f *Fifo) Serve() {
	f.wg.Add(1)
	defer f.wg.Done()
	r := bufio.NewReaderSize(f.f, 4096)
	var doc []byte
	depth, inStr, esc, over := 0, false, false, false
	for {
		c, err := r.ReadByte()
		if err != nil {
			return
		}
		if !over {
			doc = append(doc, c)
			if len(doc) > MaxRequest {
				over, doc = true, doc[:0]
			}
		}
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth <= 0 && !inStr && (c == '}' || c == '\n') {
			if over {
				f.reply(nil, encode(response{JSONRPC: "2.0", ID: []byte("null"), Error: &Error{CodeParse, "Parse Error: request over the limit"}}))
			} else if len(bytes.TrimSpace(doc)) > 0 {
				out, req := f.ms.handle(doc)
				f.reply(req, out)
			}
			doc, depth, inStr, esc, over = doc[:0], 0, false, false, false
		}
	}
}

func (f *Fifo) reply(req *Request, out []byte) {
	if req == nil || req.ReplyName == "" || out == nil {
		return
	}
	name := req.ReplyName
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return // a reply FIFO is a name in fifo_reply_dir, never a path
	}
	p := filepath.Join(f.replyDir, name)
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	// Non-blocking open: a reply FIFO with no reader is skipped rather
	// than hanging the server.
	w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer w.Close()
	w.SetWriteDeadline(time.Now().Add(2 * time.Second))
	io.Copy(w, bytes.NewReader(out))
}

// Close stops Serve and removes the FIFO.
func (f *Fifo) Close() error {
	err := f.f.Close()
	os.Remove(f.path)
	return err
}

// checkOwnDir accepts a real folder (not a symlink) of this user that no
// one else may write.
func checkOwnDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("folder %s is not a folder of this user writable only by it", dir)
	}
	return nil
}
