package tlscfg

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Store holds the current Configs and replaces them on Reload; it
// implements transport.TLSConfigs. Connections already established keep
// the configuration they were made with; every new handshake, accepted or
// opened, uses the one current when it starts.
type Store struct {
	path   string
	params Params
	cur    atomic.Pointer[Configs]
	mu     sync.Mutex // serialises Reload
}

// Load reads the tls.cfg at path (none when path is empty: the Params
// alone make the default domains) and builds its configurations.
func Load(path string, p Params) (*Store, error) {
	s := &Store{path: path, params: p}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStore wraps configurations built elsewhere; Reload then fails.
func NewStore(c *Configs) *Store {
	s := &Store{}
	s.cur.Store(c)
	return s
}

// Reload reads the file and every certificate, key and CA list again and
// swaps the result in atomically. On any error the current configuration
// stays and the error says where (file:line).
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &File{}
	dir := ""
	if s.path != "" {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return fmt.Errorf("tls: reading %s: %w", s.path, err)
		}
		if f, err = Parse(s.path, data); err != nil {
			return err
		}
		dir = filepath.Dir(s.path)
	} else if s.cur.Load() != nil {
		return fmt.Errorf("tls: reload: no tls.cfg file to read")
	}
	if s.params.BaseDir != "" {
		dir = s.params.BaseDir
	}
	c, err := Build(f, s.params, dir)
	if err != nil {
		return err
	}
	s.cur.Store(c)
	return nil
}

// Current is the configuration in use.
func (s *Store) Current() *Configs { return s.cur.Load() }

// ServerConfig implements transport.TLSConfigs.
func (s *Store) ServerConfig(local netip.AddrPort) (*tls.Config, error) {
	return s.cur.Load().ServerConfig(local)
}

// ClientConfig implements transport.TLSConfigs.
func (s *Store) ClientConfig(remote netip.AddrPort, serverName string) (*tls.Config, error) {
	return s.cur.Load().ClientConfig(remote, serverName)
}
