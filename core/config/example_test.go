package config_test

import (
	"fmt"

	"kemi/core"
	"kemi/core/config"
)

func ExampleParse() {
	src := `#!KAMAILIO
#!define WITH_DEBUG
#!ifdef WITH_DEBUG
debug=3
#!else
debug=2
#!endif
memdbg=5
listen=udp:127.0.0.1:5060 advertise 203.0.113.1:5060
loadmodule "app_lua.so"
modparam("app_lua", "load", "/etc/kemi/kemi.lua")
cfgengine "lua"
`
	// Tests and embedded configs supply their own modules; kemi itself
	// uses the defaults (every module linked into the binary).
	luaSpec := &core.ModuleSpec{Name: "app_lua", Params: []core.ParamSpec{{Name: "load", Type: core.TStr}}}
	cfg, err := config.Parse("kemi.cfg", []byte(src), config.Options{
		Module: func(name string) *core.ModuleSpec {
			if name == "app_lua.so" {
				return luaSpec
			}
			return nil
		},
		Engine: func(name string) *core.EngineInfo {
			return &core.EngineInfo{Name: "lua", Module: "app_lua"}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	debug, _ := cfg.Global("debug")
	fmt.Println("debug:", debug)
	fmt.Printf("listen: %s %s:%d advertised as %s:%d\n", cfg.Listens[0].Proto, cfg.Listens[0].Host, cfg.Listens[0].Port, cfg.Listens[0].AdvHost, cfg.Listens[0].AdvPort)
	fmt.Println("engine:", cfg.Engine, "at", cfg.EnginePos)
	fmt.Println("script:", cfg.ModParams[0].Value)
	for _, n := range cfg.Notices {
		fmt.Println(n)
	}
	// Output:
	// debug: 3
	// listen: udp 127.0.0.1:5060 advertised as 203.0.113.1:5060
	// engine: lua at kemi.cfg:12:1
	// script: /etc/kemi/kemi.lua
	// kemi.cfg:8:1: memdbg: Kamailio parameter not used by kemi, ignored
}

func ExampleErrorList() {
	_, err := config.Parse("kemi.cfg", []byte("chidlren=4\n#!ifdef X\nport=5060\n"), config.Options{})
	fmt.Println(err)
	// Output:
	// kemi.cfg:1:1: unknown global parameter "chidlren" (did you mean "children"?)
	// kemi.cfg:2:1: #!ifdef at kemi.cfg:2:1 has no #!endif
}
