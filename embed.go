// Package kemi holds what the binary embeds from the repository: the
// default config and script that `kemi serve` runs when given no -f.
package kemi

import "embed"

// Defaults holds testdata/seed; DefaultConfig is the config in it.
//
//go:embed testdata/seed/*.cfg testdata/seed/*.lua
var Defaults embed.FS

// DefaultConfig is the path of the embedded default config inside Defaults.
const DefaultConfig = "testdata/seed/kamailio.cfg"
