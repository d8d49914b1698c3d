// Package kcore implements the core KEMI functions, module "" (KSR.info,
// KSR.is_INVITE, KSR.setflag, KSR.is_myself ...), with Kamailio's names,
// types and results. Folder and package are kcore, so that it does not
// shadow kemi/core, which every function here takes its context from.
//
// The functions never allocate on the common path: method and protocol
// checks compare bytes in place, flags are bits in the context. Edits of
// the Request-URI are built in the worker's ctx.Scratch, which sip copies.
package kcore
