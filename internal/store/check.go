package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bbolt's file format (go.etcd.io/bbolt, internal/common), read here so a
// file is checked before bbolt maps it: bbolt validates its meta pages
// only after mmap, and a page beyond the end of a shortened file faults
// (SIGBUS/SIGSEGV) when touched through the map instead of failing.
//
// Pages 0 and 1 are meta pages. A page starts with a 16-byte header (id
// uint64, flags uint16, count uint16, overflow uint32); a meta page's
// body is magic uint32, version uint32, pageSize uint32, flags uint32,
// root bucket (root pgid uint64, sequence uint64), freelist pgid uint64,
// high-water mark pgid uint64, txid uint64, and a checksum uint64 (FNV-1a
// 64 of the 56 bytes before it), in the machine's byte order. bbolt uses
// the valid meta with the higher txid.
const (
	pageHeaderSize = 16
	metaSize       = 64
	metaSumOffset  = 56
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	minPageSize    = 512
	maxPageSize    = 1 << 24
)

// ErrDamaged matches every DamagedError with errors.Is.
var ErrDamaged = errors.New("damaged database file")

// DamagedError says a database file cannot be used, why, and how to
// recover. Its text names the file.
type DamagedError struct {
	Path string
	Why  string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s: damaged database file: %s (details: kemi db check %s; to start afresh, move it aside: mv %s %s.bad — its registrations are then lost until the phones register again, and subscribers must be added again with kemi user add)",
		e.Path, e.Why, e.Path, e.Path, e.Path)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Meta is one decoded meta page.
type Meta struct {
	Magic, Version, PageSize, Flags uint32
	Root, Freelist, HWM, TxID       uint64
	Sum, WantSum                    uint64
}

// invalid returns why bbolt itself rejects m, or "": bbolt checks the
// magic, the version and the checksum, nothing else.
func (m *Meta) invalid() string {
	switch {
	case m.Magic != boltMagic:
		return fmt.Sprintf("magic %#x, expected %#x (not a bbolt database)", m.Magic, uint32(boltMagic))
	case m.Version != boltVersion:
		return fmt.Sprintf("format version %d, expected %d", m.Version, boltVersion)
	case m.Sum != m.WantSum:
		return fmt.Sprintf("checksum %#x, expected %#x (torn or overwritten)", m.Sum, m.WantSum)
	}
	return ""
}

// problem returns why m cannot be used, or "": what bbolt checks and
// that its page numbers make sense.
func (m *Meta) problem() string {
	if why := m.invalid(); why != "" {
		return why
	}
	switch {
	case !sanePageSize(m.PageSize):
		return fmt.Sprintf("page size %d, expected a power of two from %d to %d", m.PageSize, minPageSize, maxPageSize)
	case m.HWM < 2:
		return fmt.Sprintf("%d pages in use, expected at least 2", m.HWM)
	case m.Root < 2 || m.Root >= m.HWM:
		return fmt.Sprintf("root page %d outside pages 2..%d in use", m.Root, m.HWM-1)
	case m.Freelist != noFreelist && (m.Freelist < 2 || m.Freelist >= m.HWM):
		return fmt.Sprintf("freelist page %d outside pages 2..%d in use", m.Freelist, m.HWM-1)
	}
	return ""
}

func sanePageSize(n uint32) bool {
	return n >= minPageSize && n <= maxPageSize && n&(n-1) == 0
}

// decodeMeta reads the meta page at the start of p (a whole page or at
// least its header and meta body).
func decodeMeta(p []byte) Meta {
	b := p[pageHeaderSize : pageHeaderSize+metaSize]
	e := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:metaSumOffset])
	m := Meta{
		Magic:    e.Uint32(b[0:]),
		Version:  e.Uint32(b[4:]),
		PageSize: e.Uint32(b[8:]),
		Flags:    e.Uint32(b[12:]),
		Root:     e.Uint64(b[16:]),
		Freelist: e.Uint64(b[32:]),
		HWM:      e.Uint64(b[40:]),
		TxID:     e.Uint64(b[48:]),
		Sum:      e.Uint64(b[56:]),
		WantSum:  h.Sum64(),
	}
	return m
}

// FileInfo is what Inspect learns from a file's meta pages.
type FileInfo struct {
	Size     int64
	PageSize int
	Meta     [2]Meta
	MetaErr  [2]string // why meta page i is not usable; "" when it is
	Use      int       // the meta page bbolt will use
}

// Inspect checks the file's meta pages and that every page they say is in
// use lies inside the file, without mapping it. It returns a DamagedError
// when bbolt could not open the file safely.
func Inspect(path string) (*FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return inspect(f, path)
}

func inspect(f *os.File, path string) (*FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info := &FileInfo{Size: fi.Size(), Use: -1}
	bad := func(format string, args ...any) (*FileInfo, error) {
		return info, &DamagedError{Path: path, Why: fmt.Sprintf(format, args...)}
	}
	if !fi.Mode().IsRegular() {
		return bad("not a regular file (%s)", fi.Mode().Type())
	}
	if info.Size == 0 {
		return bad("the file is empty (0 bytes)")
	}
	const head = pageHeaderSize + metaSize
	if info.Size < head {
		return bad("the file is %d bytes, shorter than one meta page", info.Size)
	}
	var buf [4096]byte
	read := func(off int64) ([]byte, bool) {
		n, err := f.ReadAt(buf[:], off)
		if n < head || (err != nil && !errors.Is(err, io.EOF)) {
			return nil, false
		}
		return buf[:n], true
	}
	// Page 0 gives the page size; when it is damaged, page 1 is looked for
	// at every size bbolt could have used, as bbolt does.
	p0, _ := read(0)
	info.Meta[0] = decodeMeta(p0)
	info.MetaErr[0] = info.Meta[0].problem()
	if info.Meta[0].invalid() == "" {
		if !sanePageSize(info.Meta[0].PageSize) {
			return bad("meta page 0 has %s", info.MetaErr[0])
		}
		info.PageSize = int(info.Meta[0].PageSize)
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize && ps+head <= info.Size; ps <<= 1 {
			if p, ok := read(ps); ok {
				if m := decodeMeta(p); m.invalid() == "" && int64(m.PageSize) == ps {
					info.PageSize = int(ps)
					break
				}
			}
		}
	}
	if info.PageSize == 0 {
		if info.Meta[0].Magic != boltMagic {
			return bad("no bbolt meta page found: meta page 0 has %s", info.MetaErr[0])
		}
		return bad("no valid meta page: meta page 0 has %s, and no meta page 1 was found", info.MetaErr[0])
	}
	ps := int64(info.PageSize)
	if info.Size < 2*ps {
		return bad("the file is %d bytes, shorter than its two meta pages (%d bytes): it was cut short", info.Size, 2*ps)
	}
	p1, ok := read(ps)
	if !ok {
		return bad("meta page 1 cannot be read")
	}
	info.Meta[1] = decodeMeta(p1)
	info.MetaErr[1] = info.Meta[1].problem()
	// Pick the meta bbolt will use (the higher txid among those passing
	// its own checks), then require that one to make sense too.
	ok0, ok1 := info.Meta[0].invalid() == "", info.Meta[1].invalid() == ""
	switch {
	case ok0 && ok1:
		info.Use = 0
		if info.Meta[1].TxID > info.Meta[0].TxID {
			info.Use = 1
		}
	case ok0:
		info.Use = 0
	case ok1:
		info.Use = 1
	default:
		return bad("both meta pages are unusable: page 0 has %s; page 1 has %s", info.MetaErr[0], info.MetaErr[1])
	}
	m := info.Meta[info.Use]
	if why := info.MetaErr[info.Use]; why != "" {
		return bad("meta page %d (transaction %d), the one in use, has %s", info.Use, m.TxID, why)
	}
	if m.PageSize != uint32(ps) {
		return bad("meta page %d says page size %d, meta page %d says %d", info.Use, m.PageSize, 1-info.Use, ps)
	}
	if need := int64(m.HWM) * ps; m.HWM > uint64(info.Size)/uint64(ps) || need > info.Size {
		return bad("the file is %d bytes, but its meta page %d (transaction %d) uses %d pages of %d bytes (%d bytes): it was cut short",
			info.Size, info.Use, m.TxID, m.HWM, ps, need)
	}
	return info, nil
}

// Report is what Check finds in a file.
type Report struct {
	Info        *FileInfo
	Subscribers int // of which Plain keep a plaintext password
	Plain       int
	Tables      map[string][2]int // location table: records, bindings
	Keys        int               // every key read, in every bucket
	Problems    []string          // records that do not decode
}

// Check reads the whole file: its meta pages (Inspect), then every page
// reachable from them, decoding every subscriber and location record. A
// damaged file gives a DamagedError; records that do not decode are
// listed in Problems.
func (d *DB) Check() (*Report, error) {
	info, err := Inspect(d.path)
	rep := &Report{Info: info, Tables: map[string][2]int{}}
	if err != nil {
		return rep, err
	}
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			rep.Keys++
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(sub)
				}
			}
			return nil
		})
	}
	err = d.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := walk(b); err != nil {
				return err
			}
			switch n := string(name); {
			case n == string(bucketSubscriber):
				return b.ForEach(func(k, v []byte) error {
					var s Subscriber
					if err := json.Unmarshal(v, &s); err != nil {
						rep.Problems = append(rep.Problems, fmt.Sprintf("subscriber %q: %v", k, err))
						return nil
					}
					rep.Subscribers++
					if s.Password != "" {
						rep.Plain++
					}
					return nil
				})
			case strings.HasPrefix(n, "location/"):
				t := strings.TrimPrefix(n, "location/")
				return b.ForEach(func(k, v []byte) error {
					var cs []json.RawMessage
					if err := json.Unmarshal(v, &cs); err != nil {
						rep.Problems = append(rep.Problems, fmt.Sprintf("table %s, record %q: %v", t, k, err))
						return nil
					}
					c := rep.Tables[t]
					c[0]++
					c[1] += len(cs)
					rep.Tables[t] = c
					return nil
				})
			}
			return nil
		})
	})
	if errors.Is(err, ErrNoFile) {
		return rep, fmt.Errorf("%s: %w", d.path, fs.ErrNotExist)
	}
	return rep, err
}
