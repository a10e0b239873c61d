# The gate: `make check` must pass before anything lands. CI runs it through .ci/run.
GO ?= go
# staticcheck is pinned; without an installed copy, `go run` fetches that version
# through the module proxy, so `make check` works on a fresh machine with Go.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION))
PKGS := ./...

.PHONY: all build check fmt vet lint test test-large fuzz bench clean

all: build

# A true static binary: no cgo anywhere (modernc.org/sqlite is pure Go).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o jointcell ./cmd/jointcell

check: fmt vet lint test-large test

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint:
	$(STATICCHECK) $(PKGS)

test:
	$(GO) test -race -short -count=1 -timeout 20m $(PKGS)

# Scale tests (1M objects and the like) are skipped under -short and run
# here without the race detector; they take well under a minute.
test-large:
	$(GO) test -count=1 -timeout 60m -run 'Large|TestStore/Large' $(PKGS)

# A short run of every fuzz target; the committed tests run their seeds only.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

bench:
	for s in bench/*.sh; do bash $$s; done

clean:
	rm -f jointcell
