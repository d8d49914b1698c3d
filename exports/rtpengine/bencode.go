package rtpengine

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// The ng protocol carries bencoded dictionaries (BEP 3): strings as
// "len:bytes", integers as "i42e", lists "l...e" and dictionaries
// "d...e" with keys sorted. This is a small own codec rather than a
// library: the well-kept Go bencode packages (jackpal/bencode-go,
// anacrolix/torrent/bencode) decode through reflection into structs,
// while ng replies are free-form dictionaries whose keys vary by command
// and daemon version; what we need is an appender that builds a request
// into a reused buffer and a decoder into plain values, ~200 lines.

// Dict is a decoded dictionary. Values are string, int64, []any or Dict.
type Dict map[string]any

// Str returns the string under key, or "".
func (d Dict) Str(key string) string {
	s, _ := d[key].(string)
	return s
}

// Int returns the integer under key (a number given as a string counts
// too), and whether there was one.
func (d Dict) Int(key string) (int64, bool) {
	switch v := d[key].(type) {
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Dict returns the dictionary under key, or nil.
func (d Dict) Dict(key string) Dict {
	v, _ := d[key].(Dict)
	return v
}

// maxDepth bounds nesting, so a hostile reply cannot exhaust the stack.
const maxDepth = 32

var errTrunc = errors.New("bencode: truncated")

// Decode decodes one bencoded value that must fill b.
func Decode(b []byte) (any, error) {
	v, n, err := decode(b, 0)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("bencode: %d bytes after the value", len(b)-n)
	}
	return v, nil
}

func decode(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, errTrunc
	}
	if depth > maxDepth {
		return nil, 0, fmt.Errorf("bencode: nested deeper than %d", maxDepth)
	}
	switch c := b[0]; {
	case c == 'i':
		end := indexByte(b, 'e')
		if end < 0 {
			return nil, 0, errTrunc
		}
		n, err := strconv.ParseInt(string(b[1:end]), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("bencode: bad integer %q", b[1:end])
		}
		return n, end + 1, nil
	case c >= '0' && c <= '9':
		s, n, err := decodeStr(b)
		return s, n, err
	case c == 'l':
		var l []any
		i := 1
		for {
			if i >= len(b) {
				return nil, 0, errTrunc
			}
			if b[i] == 'e' {
				return l, i + 1, nil
			}
			v, n, err := decode(b[i:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			l = append(l, v)
			i += n
		}
	case c == 'd':
		d := Dict{}
		i := 1
		for {
			if i >= len(b) {
				return nil, 0, errTrunc
			}
			if b[i] == 'e' {
				return d, i + 1, nil
			}
			k, n, err := decodeStr(b[i:])
			if err != nil {
				return nil, 0, fmt.Errorf("bencode: dictionary key: %w", err)
			}
			i += n
			v, n, err := decode(b[i:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			d[k] = v
			i += n
		}
	default:
		return nil, 0, fmt.Errorf("bencode: unexpected byte %q", c)
	}
}

func decodeStr(b []byte) (string, int, error) {
	colon := indexByte(b, ':')
	if colon < 1 || colon > 10 {
		return "", 0, fmt.Errorf("bencode: bad string length")
	}
	n, err := strconv.Atoi(string(b[:colon]))
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("bencode: bad string length %q", b[:colon])
	}
	if len(b)-colon-1 < n {
		return "", 0, errTrunc
	}
	return string(b[colon+1 : colon+1+n]), colon + 1 + n, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// AppendStr appends a bencoded string.
func AppendStr(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends a bencoded string from bytes.
func AppendBytes(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendInt appends a bencoded integer.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// Append appends any value Decode gives (and int, []string), keys sorted.
func Append(dst []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return AppendStr(dst, v)
	case []byte:
		return AppendBytes(dst, v)
	case int64:
		return AppendInt(dst, v)
	case int:
		return AppendInt(dst, int64(v))
	case []string:
		dst = append(dst, 'l')
		for _, s := range v {
			dst = AppendStr(dst, s)
		}
		return append(dst, 'e')
	case []any:
		dst = append(dst, 'l')
		for _, x := range v {
			dst = Append(dst, x)
		}
		return append(dst, 'e')
	case Dict:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, 'd')
		for _, k := range keys {
			dst = AppendStr(dst, k)
			dst = Append(dst, v[k])
		}
		return append(dst, 'e')
	}
	panic(fmt.Sprintf("bencode: cannot encode %T", v))
}
