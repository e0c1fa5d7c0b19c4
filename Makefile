# The two commands of the README: `make run` and `make test`.
GO         ?= go
PKGS       := ./...
FUZZTIME   ?= 20s
FUZZPKGS   := ./responder/ ./hosting/internal/settings/ ./hosting/internal/reload/ ./hosting/emulate/ ./examples/guestbook/
BENCHCOUNT ?= 5
BENCHRUNS  ?= 5
BENCHTIME  ?= 5s
ADDR       ?= 127.0.0.1:8000
SITE       := build/site
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
# The version the log and -version show, so it says which upload is live.
STAMP      := -X github.com/fcgi-hosting/fcgi/hosting.stampedVersion=$(VERSION)
LDFLAGS    := -s -w $(STAMP)

.PHONY: all run site test vet bench bench-apache bench-deps fuzz dist clean

all: test

# examples/guestbook laid out exactly like an upload, served by the local
# emulation of Apache + mod_fcgid. Its database is build/site/guestbook.db.
# Beside the upload's mysite.env (DEBUG=false) lies mysite.dev.env, which
# the emulation reads over it (DEBUG=true) and which is never uploaded.
run: site
	$(SITE)/mysite.fcgi -local -addr $(ADDR)

site:
	mkdir -p $(SITE)/static
	$(GO) build -ldflags '$(STAMP)' -o $(SITE)/mysite.fcgi ./examples/guestbook
	cp deploy/apache-fcgid/htaccess $(SITE)/.htaccess
	cp examples/guestbook/site/mysite.env examples/guestbook/site/mysite.dev.env examples/guestbook/site/404.html examples/guestbook/site/500.html $(SITE)/
	cp examples/guestbook/site/static/style.css $(SITE)/static/

test: vet
	$(GO) test -race -timeout 15m $(PKGS)

vet:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# Every benchmark in one run, written to BENCHMARKS.md: the engine's Go
# benchmarks beside net/http/fcgi and net/http, fcgi-bench against spawned
# binaries, wrk through nginx to this engine, net/http/fcgi, C libfcgi,
# PHP-FPM and net/http, wrk through Apache + mod_fcgid to this runtime,
# net/http/fcgi, php-cgi and C libfcgi with their CPU per request, and
# process figures. `make bench-deps` installs the
# servers and tools it drives (Debian, as root). Raw output: build/bench/.
bench:
	$(GO) run ./internal/benchreport -count $(BENCHCOUNT) -runs $(BENCHRUNS) -d $(BENCHTIME)

bench-deps:
	apt-get install -y --no-install-recommends nginx-light wrk php8.2-fpm php8.2-cgi libfcgi-dev gcc apache2 libapache2-mod-fcgid

# The Apache + mod_fcgid section alone, printed rather than written to
# BENCHMARKS.md.
bench-apache:
	$(GO) run ./internal/benchreport -only apache -runs $(BENCHRUNS) -d $(BENCHTIME)

# Each fuzz target for a bounded time; crashers land in testdata/fuzz.
fuzz:
	@set -e; for p in $(FUZZPKGS); do for t in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
		echo "== $$p $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p; done; done

# Upload-ready folders and zips of the guestbook: static binaries for
# linux/amd64 and arm64, modes suEXEC accepts, and UPLOAD.txt. Each file
# is named: mysite.dev.env, the development settings, must stay behind.
dist:
	@set -e; for arch in amd64 arm64; do \
		d=dist/guestbook-linux-$$arch; rm -rf $$d; mkdir -p $$d/static; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$d/mysite.fcgi ./examples/guestbook; \
		cp deploy/apache-fcgid/htaccess $$d/.htaccess; \
		cp examples/guestbook/site/mysite.env examples/guestbook/site/404.html examples/guestbook/site/500.html $$d/; \
		cp examples/guestbook/site/static/style.css $$d/static/; \
		cp examples/guestbook/UPLOAD.txt $$d/; \
		chmod 755 $$d $$d/static $$d/mysite.fcgi; \
		chmod 644 $$d/.htaccess $$d/mysite.env $$d/404.html $$d/500.html $$d/static/style.css $$d/UPLOAD.txt; \
		(cd dist && rm -f guestbook-linux-$$arch.zip && zip -qr guestbook-linux-$$arch.zip guestbook-linux-$$arch); \
		echo "dist/guestbook-linux-$$arch.zip"; done

clean:
	rm -rf build dist
