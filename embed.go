// Package kemi holds what the binary embeds from the repository: the
// default config and script that `kemi serve` runs when given no -f, and
// the KSR reference that `kemi docs` serves.
package kemi

import "embed"

// Defaults holds the registrar that `kemi serve` runs without -f: kemi's
// own Lua registrar script and its config (testdata/registrar).
//
//go:embed testdata/registrar/kemi-lua.cfg testdata/registrar/kemi.lua
var Defaults embed.FS

// DefaultConfig is the path of the embedded default config inside Defaults.
const DefaultConfig = "testdata/registrar/kemi-lua.cfg"

// Reference is the generated KSR reference site (kemigen writes it from
// the module specs), as `kemi docs` serves it: the functions of exactly
// the modules this binary was built with.
//
//go:embed docs/reference/html
var Reference embed.FS

// ReferenceDir is the folder of the site inside Reference.
const ReferenceDir = "docs/reference/html"
