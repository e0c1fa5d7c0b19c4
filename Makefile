# The two commands of the README: `make run` and `make test`.
GO         ?= go
PKGS       := ./...
FUZZTIME   ?= 20s
BENCHCOUNT ?= 5
ADDR       ?= 127.0.0.1:8000
SITE       := build/site
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS    := -s -w

.PHONY: all run site test vet bench fuzz dist clean

all: test

# examples/hello laid out exactly like an upload, served by the local
# emulation of Apache + mod_fcgid.
run: site
	$(SITE)/mysite.fcgi -local -addr $(ADDR)

site:
	mkdir -p $(SITE)
	$(GO) build -o $(SITE)/mysite.fcgi ./examples/hello
	cp deploy/apache-fcgid/htaccess $(SITE)/.htaccess
	cp examples/hello/site/mysite.env examples/hello/site/style.css $(SITE)/

test: vet
	$(GO) test -race -timeout 15m $(PKGS)

vet:
	$(GO) vet $(PKGS)

# Engine beside net/http/fcgi and net/http, same run: compare with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./responder/

# Each fuzz target for a bounded time; crashers land in testdata/fuzz.
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' ./responder/ | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./responder/; done

# Upload-ready folders and zips: static binaries for linux/amd64 and arm64.
dist:
	@set -e; for arch in amd64 arm64; do \
		d=dist/hello-linux-$$arch; rm -rf $$d; mkdir -p $$d; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$d/mysite.fcgi ./examples/hello; \
		cp deploy/apache-fcgid/htaccess $$d/.htaccess; \
		sed 's/^DEBUG=true/DEBUG=false/; s/local emulation/the host/' examples/hello/site/mysite.env > $$d/mysite.env; \
		cp examples/hello/site/style.css $$d/; \
		chmod 755 $$d $$d/mysite.fcgi; chmod 644 $$d/.htaccess $$d/mysite.env $$d/style.css; \
		(cd dist && rm -f hello-linux-$$arch.zip && zip -qr hello-linux-$$arch.zip hello-linux-$$arch); \
		echo "dist/hello-linux-$$arch.zip"; done

clean:
	rm -rf build dist
