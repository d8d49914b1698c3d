// Package all links every module in exports/ into a binary with one blank
// import; all.go beside this file is generated.
//
// This is the one place `go generate` starts kemigen. It regenerates
// everything at once, from the repository root it finds by walking up to
// go.mod: each module's zz_kemi.go (exports/* and engines/*), this
// package's all.go, docs/reference and docs/stubs. Module folders need no
// go:generate line of their own.
package all

//go:generate go run kemi/cmd/kemigen
