package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"kemi/core"
)

// Fake modules stand in for the real ones so these tests do not depend on
// which modules are linked.
var fakeSpecs = []*core.ModuleSpec{
	{Name: "tm", Params: []core.ParamSpec{
		{Name: "fr_timer", Type: core.TInt},
		{Name: "fr_inv_timer", Type: core.TInt},
		{Name: "failure_reply_mode", Type: core.TInt},
	}},
	{Name: "sl", Params: []core.ParamSpec{{Name: "default_reason", Type: core.TStr}}},
	{Name: "kx", Files: []string{"kemix"}},
	{Name: "debugger", Params: []core.ParamSpec{{Name: "cfgtrace", Type: core.TInt}}},
	{Name: "rr", Params: []core.ParamSpec{
		{Name: "enable_full_lr", Type: core.TInt},
		{Name: "append_fromtag", Type: core.TInt},
	}},
	{Name: "registrar", Params: []core.ParamSpec{
		{Name: "method_filtering", Type: core.TInt},
		{Name: "received_avp", Type: core.TStr},
		{Name: "max_expires", Type: core.TInt},
	}},
	{Name: "nathelper", Params: []core.ParamSpec{
		{Name: "received_avp", Type: core.TStr},
		{Name: "natping_interval", Type: core.TInt},
	}},
	{Name: "usrloc", Params: []core.ParamSpec{
		{Name: "db_url", Type: core.TStr},
		{Name: "use_domain", Type: core.TInt},
		{Name: "nat_bflag", Type: core.TInt},
	}},
	{Name: "auth_db", Params: []core.ParamSpec{
		{Name: "calculate_ha1", Type: core.TInt},
		{Name: "db_url", Type: core.TStr},
	}},
	{Name: "htable", Params: []core.ParamSpec{{Name: "htable", Type: core.TStr, Multi: true}}},
	{Name: "acc", Params: []core.ParamSpec{
		{Name: "early_media", Type: core.TInt},
		{Name: "log_flag", Type: core.TInt},
		{Name: "log_missed_flag", Type: core.TInt},
		{Name: "log_extra", Type: core.TStr},
		{Name: "failed_transaction_flag", Type: core.TInt},
		{Name: "db_url", Type: core.TStr},
		{Name: "db_flag", Type: core.TInt},
		{Name: "db_missed_flag", Type: core.TInt},
		{Name: "db_extra", Type: core.TStr},
	}},
	{Name: "pv"}, {Name: "maxfwd"}, {Name: "textops"}, {Name: "siputils"}, {Name: "xlog"},
	{Name: "sanity", Params: []core.ParamSpec{{Name: "autodrop", Type: core.TInt}}},
	{Name: "tmx"}, {Name: "corex"}, {Name: "textopsx"}, {Name: "auth"}, {Name: "xhttp"},
	{Name: "rtpproxy", Params: []core.ParamSpec{{Name: "rtpproxy_sock", Type: core.TStr, Multi: true}}},
	{Name: "tls", Params: []core.ParamSpec{{Name: "config", Type: core.TStr}}},
	{Name: "app_lua", Params: []core.ParamSpec{{Name: "load", Type: core.TStr}}},
	{Name: "app_jsdt", Params: []core.ParamSpec{{Name: "load", Type: core.TStr}}},
	{Name: "app_starlark", Params: []core.ParamSpec{{Name: "load", Type: core.TStr}}},
}

func fakeModule(file string) *core.ModuleSpec {
	base := moduleBase(file)
	for _, s := range fakeSpecs {
		if s.Name == base {
			return s
		}
		for _, f := range s.Files {
			if f == base {
				return s
			}
		}
	}
	return nil
}

func fakeModuleNames() []string {
	var out []string
	for _, s := range fakeSpecs {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func fakeEngine(name string) *core.EngineInfo {
	switch name {
	case "lua":
		return &core.EngineInfo{Name: "lua", Module: "app_lua"}
	case "jsdt", "js":
		return &core.EngineInfo{Name: "jsdt", Aliases: []string{"js"}, Module: "app_jsdt"}
	case "starlark":
		return &core.EngineInfo{Name: "starlark", Module: "app_starlark"}
	}
	return nil
}

// memFS is a ReadFile hook over a map, reporting fs.ErrNotExist like the
// os package does.
func memFS(files map[string]string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		if s, ok := files[path]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
}

func testOptions(files map[string]string) Options {
	return Options{
		ReadFile:    memFS(files),
		Module:      fakeModule,
		ModuleNames: fakeModuleNames,
		Engine:      fakeEngine,
		EngineNames: func() []string { return []string{"js", "jsdt", "lua", "starlark"} },
	}
}

// mustParse parses src as file "x" and fails the test on any error.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse("x", []byte(src), testOptions(nil))
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v\nsource:\n%s", err, src)
	}
	return cfg
}

// errText parses src as file "x" and returns the error text ("" when ok).
func errText(src string, opt Options) string {
	_, err := Parse("x", []byte(src), opt)
	if err == nil {
		return ""
	}
	return err.Error()
}

func global(t *testing.T, cfg *Config, name string) core.Value {
	t.Helper()
	v, ok := cfg.Global(name)
	if !ok {
		t.Fatalf("global %s not set; globals: %v", name, cfg.Globals)
	}
	return v
}

func writeFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}
