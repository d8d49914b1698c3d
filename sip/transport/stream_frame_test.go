package transport

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func sipMsg(body string) string {
	return "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nCall-ID: x\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
}

type item struct {
	kind Frame
	data string
}

// frameAll frames in, fed in chunks of size step (0: all at once), as a
// connection would: the framer sees the unconsumed bytes each time.
func frameAll(f *StreamFramer, in string, step int) ([]item, error) {
	var out []item
	var buf []byte
	for off := 0; off < len(in) || off == 0; {
		end := len(in)
		if step > 0 && off+step < end {
			end = off + step
		}
		buf = append(buf, in[off:end]...)
		off = end
		for len(buf) > 0 {
			k, n, err := f.Next(buf)
			if err != nil {
				return out, err
			}
			if k == FrameMore {
				break
			}
			out = append(out, item{k, string(buf[:n])})
			buf = buf[n:]
		}
		if off >= len(in) {
			break
		}
	}
	return out, nil
}

func TestStreamFramer(t *testing.T) {
	m0, m1 := sipMsg(""), sipMsg("v=0\r\nbody")
	tests := []struct {
		name  string
		in    string
		noCL  bool
		max   int
		want  []item
		err   error
		extra bool // bytes left pending
	}{
		{name: "one", in: m0, want: []item{{FrameMessage, m0}}},
		{name: "body", in: m1, want: []item{{FrameMessage, m1}}},
		{name: "several in one read", in: m0 + m1 + m0, want: []item{{FrameMessage, m0}, {FrameMessage, m1}, {FrameMessage, m0}}},
		{name: "ping between", in: m0 + "\r\n\r\n" + m1, want: []item{{FrameMessage, m0}, {FramePing, "\r\n\r\n"}, {FrameMessage, m1}}},
		{name: "lone CRLF ignored", in: "\r\n" + m0, want: []item{{FrameCRLF, "\r\n"}, {FrameMessage, m0}}},
		{name: "ping then CRLF", in: "\r\n\r\n\r\n" + m0, want: []item{{FramePing, "\r\n\r\n"}, {FrameCRLF, "\r\n"}, {FrameMessage, m0}}},
		{name: "compact l", in: "MESSAGE sip:a SIP/2.0\r\nl : 3\r\n\r\nabc", want: []item{{FrameMessage, "MESSAGE sip:a SIP/2.0\r\nl : 3\r\n\r\nabc"}}},
		{name: "case", in: "MESSAGE sip:a SIP/2.0\r\ncOnTeNt-LeNgTh:2\r\n\r\nab", want: []item{{FrameMessage, "MESSAGE sip:a SIP/2.0\r\ncOnTeNt-LeNgTh:2\r\n\r\nab"}}},
		{name: "missing CL", in: "OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n", err: ErrNoContentLength},
		{name: "missing CL accepted", noCL: true, in: "OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n" + m0,
			want: []item{{FrameMessage, "OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"}, {FrameMessage, m0}}},
		{name: "bad CL", in: "OPTIONS sip:a SIP/2.0\r\nContent-Length: 1x\r\n\r\n", err: ErrBadContentLength},
		{name: "negative CL", in: "OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n", err: ErrBadContentLength},
		{name: "two CLs differ", in: "OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", err: ErrBadContentLength},
		{name: "two CLs agree", in: "OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 1\r\n\r\na",
			want: []item{{FrameMessage, "OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 1\r\n\r\na"}}},
		{name: "huge CL", in: "OPTIONS sip:a SIP/2.0\r\nContent-Length: 10485760\r\n\r\n", err: ErrMessageTooBig},
		{name: "headers never end", max: 1000, in: "OPTIONS sip:a SIP/2.0\r\n" + strings.Repeat("X-A: b\r\n", 200), err: ErrMessageTooBig},
		{name: "body incomplete", in: m1[:len(m1)-2], extra: true},
		{name: "exactly max", max: len(m1), in: m1, want: []item{{FrameMessage, m1}}},
		{name: "one over max", max: len(m1) - 1, in: m1, err: ErrMessageTooBig},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 3, 7, 64} {
			t.Run(fmt.Sprintf("%s/step%d", tt.name, step), func(t *testing.T) {
				f := StreamFramer{Max: 65535, AcceptNoCL: tt.noCL}
				if tt.max != 0 {
					f.Max = tt.max
				}
				got, err := frameAll(&f, tt.in, step)
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				if tt.err != nil {
					return
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("got %q\nwant %q", got, tt.want)
				}
				if f.Pending() != tt.extra {
					t.Fatalf("pending %v, want %v", f.Pending(), tt.extra)
				}
			})
		}
	}
}

// TestStreamFramer_OneByteAtATimeIsLinear: a peer dribbling a 64 KiB header
// block byte by byte costs one scan of it, not one per byte.
func TestStreamFramer_OneByteAtATimeIsLinear(t *testing.T) {
	in := []byte("OPTIONS sip:a SIP/2.0\r\n" + strings.Repeat("X", 65000))
	f := StreamFramer{Max: 65535}
	allocs := testing.AllocsPerRun(1, func() {
		f.Reset()
		for i := 1; i <= len(in); i++ {
			if _, _, err := f.Next(in[:i]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
	if f.scanned < len(in)-1 {
		t.Fatalf("scanned %d of %d", f.scanned, len(in))
	}
}

func TestStreamFramer_NoAllocs(t *testing.T) {
	in := []byte(sipMsg("v=0\r\n") + sipMsg(""))
	f := StreamFramer{Max: 65535}
	allocs := testing.AllocsPerRun(100, func() {
		b := in
		for len(b) > 0 {
			_, n, err := f.Next(b)
			if err != nil || n == 0 {
				t.Fatal(err)
			}
			b = b[n:]
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

func BenchmarkStreamFramer(b *testing.B) {
	msg := []byte("INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\n" +
		"From: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\n" +
		"Contact: <sip:alice@10.0.0.1;transport=tcp>\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: 142\r\n\r\n" + strings.Repeat("s", 142))
	f := StreamFramer{Max: 65535}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		k, n, err := f.Next(msg)
		if k != FrameMessage || n != len(msg) || err != nil {
			b.Fatal(k, n, err)
		}
	}
}

// FuzzStreamFramer checks that framing never panics, never returns a
// message longer than Max or one that is not a prefix of the input, and
// gives the same items whatever the read sizes.
func FuzzStreamFramer(f *testing.F) {
	f.Add([]byte(sipMsg("abc")+"\r\n\r\n"+sipMsg("")), uint8(1), false)
	f.Add([]byte("\r\n\r\n\r\nOPTIONS x SIP/2.0\r\nl: 2\r\n\r\nab"), uint8(3), true)
	f.Add([]byte("A\r\nContent-Length: 99999999\r\n\r\n"), uint8(0), false)
	f.Fuzz(func(t *testing.T, in []byte, step uint8, noCL bool) {
		const max = 512
		one := StreamFramer{Max: max, AcceptNoCL: noCL}
		all, errAll := frameAll(&one, string(in), 0)
		split := StreamFramer{Max: max, AcceptNoCL: noCL}
		parts, errSplit := frameAll(&split, string(in), int(step))
		pos := 0
		for _, it := range all {
			if len(it.data) > max || len(it.data) == 0 {
				t.Fatalf("item of %d bytes", len(it.data))
			}
			if !bytes.HasPrefix(in[pos:], []byte(it.data)) {
				t.Fatalf("item %q is not next in the input", it.data)
			}
			pos += len(it.data)
		}
		// Reading in pieces may stop earlier (an error seen before later
		// bytes arrive is the same error), but never disagrees.
		if (errAll == nil) != (errSplit == nil) && step != 0 {
			// A too-big header block may be detected at a different point,
			// but both must fail or both succeed.
			t.Fatalf("errors differ: all at once %v, in steps of %d %v", errAll, step, errSplit)
		}
		n := len(parts)
		if len(all) < n {
			n = len(all)
		}
		for i := 0; i < n; i++ {
			if all[i] != parts[i] {
				t.Fatalf("item %d: %q vs %q", i, all[i], parts[i])
			}
		}
	})
}
