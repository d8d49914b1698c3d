// Package jsonrpcs is module jsonrpcs: its params configure the control
// interface the server serves (server/jsonrpc).
package jsonrpcs
