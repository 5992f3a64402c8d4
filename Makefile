# dialerd — see README.md. Every target works on a fresh Debian machine with Go.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/dialerd
CTL       := bin/dialerctl
# sudo only when not already root (CI runs as root, laptops usually not).
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test test-deps test-package lint bench bench-load crash fuzz clean install uninstall deb

## run: start the daemon with embedded SQLite in ./var, no config file needed.
## Settings: DIALERD_* variables (DIALERD_LOG_LEVEL=debug make run) or flags
## in ARGS (make run ARGS="--log.level debug --listen 127.0.0.1:8080").
ARGS ?=
run:
	@echo "make run: compiling dialerd into $(BIN) (a minute or two on a cold cache)"
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dialerd
	@echo "make run: starting $(BIN) $(ARGS)"
	@exec ./$(BIN) $(ARGS)

## build: the daemon and its command line (dialerctl) in bin/
build:
	@echo "make build: compiling $(BIN) and $(CTL)"
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dialerd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(CTL) ./cmd/dialerctl

## install / uninstall: for hosts without dpkg. DESTDIR stages (packagers),
## PREFIX is where the binaries (dialerd, dialerctl), unit, sysusers.d and tmpfiles.d snippets and
## README go (/usr/local by default: systemd reads /usr/local/lib/systemd too).
## An existing /etc/dialerd/dialerd.yaml is never overwritten; uninstall
## keeps it and /var/lib/dialerd (the database, keys and media).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
install: build
	@echo "make install: into $(DESTDIR)$(PREFIX), configuration in $(DESTDIR)$(SYSCONFDIR)/dialerd"
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dialerd
	install -D -m 0755 $(CTL) $(DESTDIR)$(PREFIX)/bin/dialerctl
	install -d -m 0755 $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed -e 's|/usr/bin/dialerd|$(PREFIX)/bin/dialerd|' -e 's|/usr/share/doc/dialerd|$(PREFIX)/share/doc/dialerd|' \
		-e 's|/etc/dialerd|$(SYSCONFDIR)/dialerd|g' systemd/dialerd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/dialerd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/dialerd.service
	install -D -m 0644 systemd/dialerd.sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/dialerd.conf
	install -d -m 0755 $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	sed -e 's|/etc/dialerd|$(SYSCONFDIR)/dialerd|g' systemd/dialerd.tmpfiles.conf > $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/dialerd.conf
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/dialerd.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/dialerd/README.md
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/dialerd
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/dialerd/dialerd.yaml ]; then \
		echo "make install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/dialerd/dialerd.yaml"; \
	else install -m 0640 configs/dialerd.yaml $(DESTDIR)$(SYSCONFDIR)/dialerd/dialerd.yaml; fi
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null 2>&1; then \
		echo "make install: creating the dialerd user and the modes of $(SYSCONFDIR)/dialerd"; \
		systemd-sysusers dialerd.conf && systemd-tmpfiles --create dialerd.conf; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "make install: done; edit $(SYSCONFDIR)/dialerd/dialerd.yaml, then systemctl enable --now dialerd"; \
	fi

uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable --now dialerd.service || true; fi
	rm -f $(DESTDIR)$(PREFIX)/bin/dialerd $(DESTDIR)$(PREFIX)/bin/dialerctl $(DESTDIR)$(PREFIX)/lib/systemd/system/dialerd.service \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/dialerd.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/dialerd.conf \
		$(DESTDIR)$(PREFIX)/share/doc/dialerd/README.md
	-rmdir $(DESTDIR)$(PREFIX)/share/doc/dialerd 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "make uninstall: kept $(DESTDIR)$(SYSCONFDIR)/dialerd, /var/lib/dialerd and the dialerd user"

## deb: a Debian package in dist/, built with dpkg-deb from what make install
## stages with PREFIX=/usr: /usr/bin/dialerd, /usr/bin/dialerctl, the unit, the sysusers.d and
## tmpfiles.d snippets, /etc/dialerd/dialerd.yaml (a conffile, 0640 in a 0750
## directory) and the README; maintainer scripts in systemd/debian.
DEB_VERSION ?= $(shell git log -1 --format=0~%cd.%h --date=format:%Y%m%d%H%M%S 2>/dev/null || echo 0~dev)
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null || $(GO) env GOARCH)
DEB_STAGE   := build/deb
DEB         := dist/dialerd_$(DEB_VERSION)_$(DEB_ARCH).deb
deb:
	@command -v dpkg-deb >/dev/null 2>&1 || { echo "make deb: dpkg-deb is missing (Debian's dpkg package)"; exit 1; }
	rm -rf $(DEB_STAGE)
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_STAGE) PREFIX=/usr SYSCONFDIR=/etc
	install -d -m 0755 $(DEB_STAGE)/DEBIAN dist
	install -m 0644 systemd/debian/conffiles $(DEB_STAGE)/DEBIAN/conffiles
	install -m 0755 systemd/debian/postinst systemd/debian/prerm systemd/debian/postrm $(DEB_STAGE)/DEBIAN/
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)/" systemd/debian/control.in > $(DEB_STAGE)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB)
	@echo "make deb: $(DEB)"

## test-package: make deb, unpacked into a scratch root: modes, owners and
## conffiles checked, the postinst run there (the user, /etc/dialerd), and
## systemd-analyze verify on the installed unit. Skips outside CI when
## dpkg-deb or systemd-analyze is missing.
test-package:
	@echo "make test-package: building the .deb and checking it in a scratch root"
	@GO="$(GO)" MAKE="$(MAKE)" systemd/test-deb.sh

## test-deps: install what the tests need when missing: sipp (Debian's sip-tester)
## for the SIP tests, gs (Debian's ghostscript) for the PDF-to-fax tests,
## chromium for the live page's browser test, espeak-ng for voicetts on SIP
## trunks, the README's quick start and the answering-machine tests' speech,
## tiff2pdf (libtiff-tools) for received faxes,
## kannel (bearerbox, smsbox) and python3-aiosmtpd (Debian's python3) for the
## mail and SMS gateways' tests
## systemd-analyze (systemd) for the package test, npm and, with it,
## @redocly/cli into TOOLS_DIR (outside the repository) for the OpenAPI lint
TOOLS_DIR       ?= $(HOME)/.cache/dialerd-tools
REDOCLY_VERSION := 2.77.0
REDOCLY         := $(TOOLS_DIR)/redocly-$(REDOCLY_VERSION)/node_modules/.bin/redocly
# api's TestOpenAPILint runs it: redocly lint --extends=recommended, 0 errors.
export REDOCLY
test-deps:
	@missing=""; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	command -v gs >/dev/null 2>&1 || missing="$$missing ghostscript"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	command -v tiff2pdf >/dev/null 2>&1 || missing="$$missing libtiff-tools"; \
	[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] || missing="$$missing kannel"; \
	/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || missing="$$missing python3-aiosmtpd"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing for the tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -x $(REDOCLY) ] || { echo "installing @redocly/cli $(REDOCLY_VERSION) into $(TOOLS_DIR) for the OpenAPI lint"; \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS_DIR)/redocly-$(REDOCLY_VERSION) @redocly/cli@$(REDOCLY_VERSION); }

## test: vet and every test, with the race detector, then the package test
test: test-deps
	@echo "make test: go vet, then every package's tests with the race detector,"
	@echo "  the short crash suite (SIGKILLs through SIPp and the fake FreeSWITCH) included;"
	@echo "  compiling the race-instrumented test binaries takes a few minutes before the first result"
	@echo "make test: go vet ./... (compiles every package)"
	$(GO) vet ./...
	@echo "make test: go test -race ./... (compiling the test binaries, then each package's result)"
	$(GO) test -race -count=1 -timeout 9m ./...
	@$(MAKE) --no-print-directory test-package

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
	rm -rf bin build dist
