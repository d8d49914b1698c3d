// Package sip is a placeholder until the SIP layer lands.
package sip

// Msg is a parsed SIP message.
type Msg struct{}
