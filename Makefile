# meshgate — the front door. Tools are pinned; nothing here needs network
# access beyond the Go module proxy.

GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.7.0
FUZZTIME      ?= 30s
BENCHTIME     ?= 1s
ADDR          ?= 127.0.0.1:9981
# Packages with native fuzz targets, as "package:Target" pairs.
FUZZ_TARGETS  := $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' motan2/*_test.go 2>/dev/null | sed 's/func //' | sort -u)

.PHONY: all build run test test-unit test-interop bench fuzz lint fmt clean

all: build test

build:
	$(GO) build -o bin/meshgate ./cmd/meshgate

## run: start meshgate on its embedded default (built-in demo Motan2 service on $(ADDR))
run:
	$(GO) run ./cmd/meshgate run --motan2-addr $(ADDR)

## test: unit, conformance and end-to-end tests (race detector on), then the interop module
test: test-unit test-interop

test-unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-interop:
	cd interop && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 15m ./...

## bench: codec and transport benchmarks, ours next to motan-go v1.2.0 in the same run
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./motan2/
	cd interop && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## fuzz: run every native fuzz target for FUZZTIME each
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./motan2/; \
	done

## lint: formatting, vet and staticcheck (pinned)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd interop && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
