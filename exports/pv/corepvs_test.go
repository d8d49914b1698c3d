package pv

// The core's pseudo-variables ($ci $rm $ru $hdr ...) are registered by
// the core module's generated code, as in a built server.
import _ "kemi/exports/kcore"
