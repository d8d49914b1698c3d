// Command kemigen regenerates kemi's module bindings, reference docs and
// editor stubs from every exports/*/module.yaml and engines/*/module.yaml.
//
// It is run by `go generate ./...` through the single `//go:generate` line
// in exports/all/gen.go, and finds the repository root by walking up to
// go.mod, so it gives the same output from any folder. A bad spec prints
// every error as file:line:col and writes nothing.
package main

import (
	"flag"
	"fmt"
	"os"

	"kemi/kemigen"
)

func main() {
	root := flag.String("root", "", "repository root (default: the folder holding go.mod, found from the working directory)")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(root string) error {
	if root == "" {
		var err error
		if root, err = kemigen.FindRoot("."); err != nil {
			return err
		}
	}
	return kemigen.Run(root)
}
