// Package kemi holds what the binary embeds from the repository: the
// default config and script that `kemi serve` runs when given no -f.
package kemi

import "embed"

// Defaults holds the registrar that `kemi serve` runs without -f: kemi's
// own Lua registrar script and its config (testdata/registrar).
//
//go:embed testdata/registrar/kemi-lua.cfg testdata/registrar/kemi.lua
var Defaults embed.FS

// DefaultConfig is the path of the embedded default config inside Defaults.
const DefaultConfig = "testdata/registrar/kemi-lua.cfg"
