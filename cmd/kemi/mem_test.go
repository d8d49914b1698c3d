package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core/loader"
	"kemi/internal/memguard"
)

// Item 3 of issue 10: the memory budget is -m, else the config's
// shm_mem_size (or its synonyms shm and shm_mem), else memguard.DefaultMB.
func TestHardening_MemBudgetFlagAndConfig(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.lua")
	os.WriteFile(script, []byte("function ksr_request_route() end\n"), 0o644)
	load := func(global string, args ...string) (int, error) {
		cfg := filepath.Join(dir, "kemi.cfg")
		body := "#!KAMAILIO\n" + global + "\nloadmodule \"app_lua.so\"\nmodparam(\"app_lua\", \"load\", \"" + script + "\")\ncfgengine \"lua\"\n"
		os.WriteFile(cfg, []byte(body), 0o644)
		opt, err := parseFlags("check", append([]string{"-f", cfg}, args...), io.Discard)
		if err != nil {
			return 0, err
		}
		opt.LogOut = io.Discard
		s, err := loader.Load(opt)
		if err != nil {
			return 0, err
		}
		s.RT.Stop()
		return s.MemMB, nil
	}
	for _, c := range []struct {
		global string
		args   []string
		want   int
	}{
		{"", nil, memguard.DefaultMB},
		{"shm_mem_size=32", nil, 32},
		{"shm=48", nil, 48},
		{"shm_mem=40", nil, 40},
		{"shm_mem_size=32", []string{"-m", "128"}, 128},
	} {
		got, err := load(c.global, c.args...)
		if err != nil || got != c.want {
			t.Errorf("%q %v: budget %d MB, %v; want %d", c.global, c.args, got, err, c.want)
		}
	}
	if _, err := load("shm_mem_size=0"); err == nil || !strings.Contains(err.Error(), "shm_mem_size") {
		t.Errorf("shm_mem_size=0: %v, want an error naming it", err)
	}
	if _, err := load("", "-m", "-1"); err == nil || !strings.Contains(err.Error(), "-m") {
		t.Errorf("-m -1: %v, want an error naming -m", err)
	}
}
