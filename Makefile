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

# examples/guestbook laid out exactly like an upload, served by the local
# emulation of Apache + mod_fcgid. Its database is build/site/guestbook.db.
run: site
	$(SITE)/mysite.fcgi -local -addr $(ADDR)

site:
	mkdir -p $(SITE)/static
	$(GO) build -o $(SITE)/mysite.fcgi ./examples/guestbook
	cp deploy/apache-fcgid/htaccess $(SITE)/.htaccess
	cp examples/guestbook/site/mysite.env examples/guestbook/site/404.html examples/guestbook/site/500.html $(SITE)/
	cp examples/guestbook/site/static/style.css $(SITE)/static/

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

# Upload-ready folders and zips of the guestbook: static binaries for
# linux/amd64 and arm64, modes suEXEC accepts, and UPLOAD.txt.
dist:
	@set -e; for arch in amd64 arm64; do \
		d=dist/guestbook-linux-$$arch; rm -rf $$d; mkdir -p $$d/static; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$d/mysite.fcgi ./examples/guestbook; \
		cp deploy/apache-fcgid/htaccess $$d/.htaccess; \
		sed 's/^DEBUG=true/DEBUG=false/' examples/guestbook/site/mysite.env > $$d/mysite.env; \
		cp examples/guestbook/site/404.html examples/guestbook/site/500.html $$d/; \
		cp examples/guestbook/site/static/style.css $$d/static/; \
		cp examples/guestbook/UPLOAD.txt $$d/; \
		chmod 755 $$d $$d/static $$d/mysite.fcgi; \
		chmod 644 $$d/.htaccess $$d/mysite.env $$d/404.html $$d/500.html $$d/static/style.css $$d/UPLOAD.txt; \
		(cd dist && rm -f guestbook-linux-$$arch.zip && zip -qr guestbook-linux-$$arch.zip guestbook-linux-$$arch); \
		echo "dist/guestbook-linux-$$arch.zip"; done

clean:
	rm -rf build dist
