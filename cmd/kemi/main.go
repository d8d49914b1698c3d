// Command kemi is the SIP routing server: `kemi serve` runs a
// kamailio.cfg-style config whose routing script is Lua, JavaScript or
// Starlark; `kemi check` loads and compiles it without serving.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"kemi"
	"kemi/core"
	"kemi/core/loader"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
)

// version is set by the Makefile through -ldflags.
var version = "dev"

const usage = `usage: kemi <command> [flags]

commands:
  serve    run the SIP server (the default command)
  check    load the config, compile its script and resolve its KSR calls
           against the loaded modules; print every error and warning, then
           "ok" or exit 1
  test     run scenario folders against the script offline: kemi test [-f FILE] DIR...
  user     add, delete or list auth_db subscribers: kemi user add USER@DOMAIN [PASSWORD]
  db       check a database file: kemi db check [FILE]
  docs     serve the function reference built into this binary: kemi docs [-l 127.0.0.1:8080]
  rpc      call a JSON-RPC method of the running server: kemi rpc [-s SOCKET] [-t] METHOD [ARGS...]
           (default socket: /run/kemi/kemi_rpc.sock as root, else $XDG_RUNTIME_DIR/kemi/
           or /tmp/kemi-UID/); kemi rpc system.listMethods lists them
  version  print the version

flags of serve and check:
  -f FILE               config file (default: the embedded registrar, testdata/registrar/kemi-lua.cfg)
  -l proto:addr:port    listen address, repeatable (overrides listen= in the config)
  -n N                  workers (overrides children=)
  -m MB                 memory budget in MB (overrides shm_mem_size=; default 256):
                        sets GOMEMLIMIT unless that is set; new transactions get
                        503 above 75% of it
  -A NAME[=VALUE]       define NAME for #!ifdef, repeatable

flags of check:
  -strict               a call into a module the config does not load is an
                        error, not a warning

kemi test [-f FILE] [-A NAME[=VALUE]] DIR...
  runs each scenario folder (scenario.yaml and its messages) against the
  config with no sockets, timers on a fake clock; prints what differed and
  exits 1 on a failure. Without -f, a folder with its own script.lua/js/star
  runs it in every engine, any other the embedded default config.
`

func main() {
	core.SetVersion(version)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "check":
		opt, err := parseFlags(cmd, args, stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		opt.LogOut = stderr
		if cmd == "serve" {
			opt.Syslog = true
			return serve(opt, stderr)
		}
		setup, err := loader.Load(opt)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, d := range setup.Diags {
			fmt.Fprintln(stderr, d)
		}
		fmt.Fprintln(stdout, "ok")
		return 0
	case "test":
		return testCmd(args, stdout, stderr)
	case "user":
		return userCmd(args, stdout, stderr)
	case "db":
		return dbCmd(args, stdout, stderr)
	case "docs":
		return docsCmd(args, stdout, stderr)
	case "rpc":
		return rpcCmd(args, stdout, stderr)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "kemi", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kemi: unknown command %q\n%s", cmd, usage)
	return 2
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func parseFlags(cmd string, args []string, stderr io.Writer) (loader.Options, error) {
	fs := flag.NewFlagSet("kemi "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var opt loader.Options
	var listens, defines listFlag
	fs.StringVar(&opt.Path, "f", "", "config file")
	fs.Var(&listens, "l", "listen address proto:addr:port (repeatable)")
	fs.Var(&listens, "listen", "same as -l")
	fs.IntVar(&opt.Workers, "n", 0, "workers")
	fs.IntVar(&opt.MemMB, "m", 0, "memory budget in MB")
	fs.Var(&defines, "A", "define NAME[=VALUE] (repeatable)")
	if cmd == "check" {
		opt.Check = true
		fs.BoolVar(&opt.Strict, "strict", false, "a call into a module that is not loaded is an error")
	}
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kemi %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return opt, errors.New("bad arguments")
	}
	opt.Listens = listens
	opt.Defines = map[string]string{}
	for _, d := range defines {
		name, val, _ := strings.Cut(d, "=")
		opt.Defines[name] = val
	}
	if opt.Path == "" {
		opt.FS = kemi.Defaults
		opt.Path = kemi.DefaultConfig
	}
	return opt, nil
}
