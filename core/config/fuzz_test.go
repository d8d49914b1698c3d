package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to the parser, with an include hook that
// can reach the fuzzed text itself (include loops) and a few fixed files.
// Parse must never panic or hang, whatever it is given.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"#!define A 1\n#!ifdef A\ndebug=A\n#!else\ndebug=2\n#!endif\n",
		"#!substdef \"/X/1/g\"\nlog_name=\"X\" \"X\"\nport=X\n",
		"include_file \"self.cfg\"\nimport_file \"nope.cfg\"\n",
		"loadmodule \"tm.so\"\nmodparam(\"tm|sl\", \"fr_timer\", -5)\n",
		"loadmodule \"app_lua.so\"\ncfgengine = \"lua\"\n",
		"listen=tcp:[::1]:5061 advertise 1.2.3.4:5060 name \"x\"\n",
		"route[X] { if ($(ru{s.len}) > 1) { \"}\"; } /* } */ }\n",
		"/* /* nested */ */ \"unterminated\n",
		"#!define A B\n#!define B A\ndebug=A\n",
		"socket = [\n bind = udp:1.2.3.4 ;\n]\n",
		"\"\\x4\\0\\777\\\n",
		"!!ifdef\n#!else\n#!endif\n#!endif\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "kamailio-default.cfg")); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		opt := testOptions(map[string]string{
			"self.cfg":  src,
			"other.cfg": "debug=1\n#!ifdef X\n",
		})
		cfg, err := Parse("fuzz.cfg", []byte(src), opt)
		if cfg == nil {
			t.Fatalf("nil config (err %v)", err)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("empty error text")
		}
		for _, r := range cfg.Routes {
			_ = r.Body
		}
	})
}
