// Package config reads kemi's config file, the kamailio.cfg dialect that
// `kemi serve -f FILE` and `kemi check -f FILE` take.
//
// Reading happens in two layers. The lexer (lex.go) turns the text into
// tokens and runs Kamailio's preprocessor on the way: #!define and friends,
// #!ifdef nesting, #!subst/#!substdef on string literals, include_file and
// import_file, comments, and the joining of adjacent string literals.
// Every token keeps the file:line:col where it was written, through
// includes and define expansions, so every error points at the user's text.
//
// The parser (parse.go) reads the statements Kamailio allows at the top
// level: global parameters (params.go holds the table of the ones kemi uses
// and the Kamailio ones it accepts and ignores), loadmodule, modparam,
// cfgengine and route blocks. Route blocks are not interpreted here; their
// preprocessed text is kept for the native engine.
//
// Errors do not stop the parse: Parse returns an ErrorList naming every
// problem it found, each as "file:line:col: message", with a did-you-mean
// where a near miss exists.
//
// Where kemi differs from Kamailio, it is on purpose:
//
//   - "#!ifdeff X" is an error with a suggestion; Kamailio reads any
//     unknown "#!" line as a comment, silently changing what is read.
//   - "#!endif # note" closes the block; in Kamailio the trailing text
//     turns the whole line into a comment.
//   - A define's value is lexed on its own, so a comment in it ends with
//     the value instead of swallowing the rest of the line that uses it.
//   - Defines expand in listen=udp:MYIP:5060; Kamailio reads "udp:MYIP"
//     as one word there.
//   - #!ifexp, #!defexp and port ranges in listen are not supported and
//     say so.
//   - Runaway input (defines that fan out, files that include themselves)
//     stops with an error instead of exhausting memory.
package config
