// Package all links every script engine into the binary.
package all

import (
	_ "kemi/engines/js"
	_ "kemi/engines/lua"
	_ "kemi/engines/starlark"
)
