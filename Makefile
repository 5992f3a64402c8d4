# dialerd — see README.md. Every target works on a fresh Debian machine with Go.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/dialerd
# sudo only when not already root (CI runs as root, laptops usually not).
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test test-deps lint bench bench-load crash fuzz clean

## run: start the daemon with embedded SQLite in ./var, no config file needed
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/dialerd

## build: the daemon binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dialerd

## test-deps: install what the tests need when missing: sipp (Debian's sip-tester)
## for the SIP tests, gs (Debian's ghostscript) for the PDF-to-fax tests,
## chromium for the live page's browser test, espeak-ng for voicetts on SIP
## trunks, the README's quick start and the answering-machine tests' speech,
## tiff2pdf (libtiff-tools) for received faxes,
## kannel (bearerbox, smsbox) and python3-aiosmtpd (Debian's python3) for the
## mail and SMS gateways' tests
test-deps:
	@missing=""; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	command -v gs >/dev/null 2>&1 || missing="$$missing ghostscript"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	command -v tiff2pdf >/dev/null 2>&1 || missing="$$missing libtiff-tools"; \
	[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] || missing="$$missing kannel"; \
	/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || missing="$$missing python3-aiosmtpd"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing for the tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## test: vet and every test, with the race detector
test: test-deps
	@echo "make test: go vet, then every package's tests with the race detector,"
	@echo "  the short crash suite (SIGKILLs through SIPp and the fake FreeSWITCH) included;"
	@echo "  compiling the race-instrumented test binaries takes a few minutes before the first result"
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: the end-to-end benchmark (SIPp and dialerd on loopback, a campaign at
## BENCH_CPM for BENCH_DURATION, then SIPp's own UAC at the same rate for
## reference; table on stdout, figures in bench-results/e2e.json, dialerd's CPU,
## heap, allocation, block and mutex profiles in bench-results/profiles/),
## then the Go benchmarks of every package. Not part of CI; about 10 minutes.
BENCH_CPM       ?= 6000
BENCH_DURATION  ?= 2m
BENCH_RECORDING ?= 1s
BENCHTIME       ?= 1s
bench: test-deps build
	@mkdir -p bench-results
	@status=0; \
	$(GO) run ./cmd/dialerbench -dialerd $(BIN) -cpm $(BENCH_CPM) -duration $(BENCH_DURATION) \
		-recording $(BENCH_RECORDING) -pprof -json bench-results/e2e.json || status=$$?; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count=1 -timeout 15m ./... || status=$$?; \
	exit $$status

## crash: the crash suite (cmd/crashsuite): 3 campaigns through the SIP gateway
## against SIPp and 3 through the fake FreeSWITCH, 300 numbers each, dialerd
## SIGKILLed 8 times in each and restarted; exits non-zero on any over-dialled,
## redialled, left open, initiated or lost call or counter mismatch.
## CRASH_SEED=N replays a run; CRASH_ARGS passes more flags (see -h).
CRASH_ARGS ?=
crash: test-deps build
	$(GO) run ./cmd/crashsuite -dialerd $(BIN) $(CRASH_ARGS)

## bench-load: the end-to-end benchmark under load: a campaign at 6000 CPM for
## 2 minutes with 200 concurrent API clients and stress-ng --cpu 2 beside it
## (Debian's stress-ng); targets: 0 answered calls lost, rate within 1 %,
## API p99 under 250 ms. Figures in bench-results/load.json.
LOAD_CLIENTS ?= 200
bench-load: test-deps build
	@command -v stress-ng >/dev/null 2>&1 || { \
		echo "installing stress-ng for the load benchmark"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng; }
	@mkdir -p bench-results
	$(GO) run ./cmd/dialerbench -dialerd $(BIN) -cpm $(BENCH_CPM) -duration $(BENCH_DURATION) \
		-recording $(BENCH_RECORDING) -api-clients $(LOAD_CLIENTS) -stress -json bench-results/load.json

## fuzz: a short run of every fuzz target (FUZZTIME=30s by default)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
