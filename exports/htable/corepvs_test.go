package htable

// The core's pseudo-variables ($si ...) are registered by the core
// module's generated code, as in a built server.
import _ "kemi/exports/kcore"
