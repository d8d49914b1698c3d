package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"kemi"
	"kemi/core/loader"
	"kemi/server/scenario"
)

// testCmd is `kemi test [-f kamailio.cfg] [-A NAME[=VALUE]] DIR...`: each
// scenario folder runs against the config offline (no sockets, timers on
// a fake clock); a failure prints what differed, and the exit status is 1.
// Without -f, a folder that carries its own script.lua/js/star runs it in
// each engine, as the project's scenarios do, and any other folder runs
// against the embedded default config.
func testCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kemi test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var path string
	var defines listFlag
	fs.StringVar(&path, "f", "", "config file")
	fs.Var(&defines, "A", "define NAME[=VALUE] (repeatable)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "kemi test: expected one or more scenario folders: kemi test [-f kamailio.cfg] DIR...")
		return 2
	}
	opt := loader.Options{Path: path, Defines: map[string]string{}}
	for _, d := range defines {
		name, val, _ := strings.Cut(d, "=")
		opt.Defines[name] = val
	}
	failed := 0
	for _, dir := range fs.Args() {
		sc, err := scenario.Load(dir)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s\n    %v\n", dir, err)
			failed++
			continue
		}
		var runs []*scenario.Result
		switch {
		case path != "":
			runs = []*scenario.Result{scenario.RunConfig(sc, opt)}
		case sc.HasScripts():
			runs = scenario.RunEngines(sc)
		default:
			o := opt
			o.FS, o.Path = kemi.Defaults, kemi.DefaultConfig
			r := scenario.RunConfig(sc, o)
			r.Engine = "default config"
			runs = []*scenario.Result{r}
		}
		diffs := scenario.CompareEngines(runs)
		for _, r := range runs {
			switch {
			case r.Skipped != "":
				fmt.Fprintf(stdout, "skip %s (%s): %s\n", dir, r.Engine, r.Skipped)
			case r.Failed():
				failed++
				fmt.Fprintf(stdout, "FAIL %s (%s)\n", dir, r.Engine)
				for _, f := range r.Failures {
					fmt.Fprintln(stdout, "  "+strings.ReplaceAll(f, "\n", "\n  "))
				}
			default:
				fmt.Fprintf(stdout, "ok   %s (%s)\n", dir, r.Engine)
			}
		}
		for _, d := range diffs {
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n  %s\n", dir, strings.ReplaceAll(d, "\n", "\n  "))
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d failed\n", failed)
		return 1
	}
	return 0
}
