# kemi: build, run, test, bench, generate. See README.md.
GO      ?= go
BIN     ?= bin/kemi
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run deps test bench bench-go bench-sipp bench-ws bench-streams generate fuzz clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kemi

# Serves SIP on 127.0.0.1:5060 with the embedded default config and script.
run: build
	$(BIN) serve

# What the tests need (sipp, Kamailio's package): scripts/deps.sh checks in
# a few milliseconds; it installs what is missing on Debian as root, and
# elsewhere names it and fails. Its list is at the top of the script.
deps:
	@scripts/deps.sh

# Unit, scenario and end-to-end tests (the end-to-end ones drive the real
# binary with sipp on 127.0.0.1). deps runs first, and CI=true makes a test
# that still finds a tool missing fail rather than skip.
test: deps
	$(GO) vet ./...
	CI=true $(GO) test -count=1 ./...

# Go benchmarks with -benchmem, then the sipp load runs against Kamailio
# (when installed) through ../shared/bench/compare.sh, and the REGISTER
# runs through testdata/bench/register-compare.sh, then REGISTER over WSS
# and memory per idle WSS connection next to Kamailio's websocket module
# (testdata/bench/ws-compare.sh), then TCP/TLS through
# testdata/bench/stream-compare.sh.
bench: bench-go bench-sipp bench-ws bench-streams

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

BENCH_ROUNDS ?= 3
SHARED ?= ../shared
bench-sipp: build
	@test -x $(SHARED)/bench/compare.sh || { echo "bench-sipp: $(SHARED)/bench/compare.sh not found"; exit 1; }
	$(SHARED)/bench/compare.sh seed $(BENCH_ROUNDS) \
		'kemi-lua=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-lua.cfg -l udp:127.0.0.1:{PORT}' \
		'kemi-js=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-js.cfg -l udp:127.0.0.1:{PORT}' \
		'kemi-star=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-star.cfg -l udp:127.0.0.1:{PORT}'
	@# The stateful record-routing proxy: INVITE/ACK/BYE through tm, per call.
	$(SHARED)/bench/compare.sh proxy $(BENCH_ROUNDS) \
		'kemi-lua=$(CURDIR)/testdata/bench/proxy.sh $(CURDIR)/$(BIN) lua {PORT} {UAS}' \
		'kemi-js=$(CURDIR)/testdata/bench/proxy.sh $(CURDIR)/$(BIN) js {PORT} {UAS}' \
		'kemi-star=$(CURDIR)/testdata/bench/proxy.sh $(CURDIR)/$(BIN) star {PORT} {UAS}'
	@# REGISTER through Kamailio's example KEMI script (needs the kamailio
	@# package), with and without digest authentication, next to Kamailio.
	SHARED=$(SHARED) testdata/bench/register-compare.sh $(BIN) $(BENCH_ROUNDS)

# REGISTER over WSS with digest auth through testdata/websocket/ws.lua in
# kemi and in Kamailio (websocket + tls modules), driven by the Go load
# client test/browser/wsload: reg/s, server CPU us per registration, and
# memory per idle WSS connection with WS_IDLE open.
WS_N ?= 20000
WS_CONNS ?= 50
WS_IDLE ?= 5000
bench-ws: build
	testdata/bench/ws-compare.sh $(BIN) $(BENCH_ROUNDS) $(WS_N) $(WS_CONNS) $(WS_IDLE)

# TCP and TLS next to Kamailio native: the seed over one connection (tcp)
# and a connection per request (tcpn, through testdata/bench/sippwrap's
# sipp, which fits tn to this machine's limits), and the proxy calls with
# the callers over TCP (sipp -t t1) and TLS (test/tlsload, Kamailio with
# Debian's tls module on the same certificate).
bench-streams: build
	@test -x $(SHARED)/bench/compare.sh || { echo "bench-streams: $(SHARED)/bench/compare.sh not found"; exit 1; }
	for t in tcp tcpn; do PATH=$(CURDIR)/testdata/bench/sippwrap:$$PATH TRANSPORT=$$t ANCHORS=native \
		$(SHARED)/bench/compare.sh seed $(BENCH_ROUNDS) \
		'kemi-lua=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-lua.cfg -l {PROTO}:127.0.0.1:{PORT}' \
		'kemi-js=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-js.cfg -l {PROTO}:127.0.0.1:{PORT}' \
		'kemi-star=$(CURDIR)/$(BIN) serve -f $(CURDIR)/testdata/bench/seed-star.cfg -l {PROTO}:127.0.0.1:{PORT}'; done
	SHARED=$(SHARED) testdata/bench/stream-compare.sh tcp $(BENCH_ROUNDS) 10000 100 "lua js star"
	SHARED=$(SHARED) testdata/bench/stream-compare.sh tls $(BENCH_ROUNDS) 5000 50 "lua js star"

generate:
	$(GO) generate ./...

# Short runs of every fuzz target (go test allows one target per run).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseMsg$$' -fuzztime $(FUZZTIME) ./sip
	$(GO) test -run '^$$' -fuzz '^FuzzParseURI$$' -fuzztime $(FUZZTIME) ./sip
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./core/config

clean:
	rm -rf bin

# Fuzz targets briefly, then the floods of issue 10 (memory, garbage) on
# 127.0.0.1 with RSS figures; a few minutes. See test/stress/run.sh.
.PHONY: stress
stress:
	GO=$(GO) test/stress/run.sh
