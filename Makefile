# The two commands of the README: `make run` and `make test`.
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 20s
BENCHCOUNT ?= 5

.PHONY: all test vet bench fuzz dist clean

all: test

test: vet
	$(GO) test -race -timeout 15m $(PKGS)

vet:
	$(GO) vet $(PKGS)

# Engine beside net/http/fcgi, same run: compare with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./responder/

# Each fuzz target for a bounded time; crashers land in testdata/fuzz.
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' ./responder/ | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./responder/; done

clean:
	rm -rf dist bin
