# meshgate — the front door. Tools are pinned; nothing here needs network
# access beyond the Go module proxy.

GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.7.0
# FUZZTIME may be a duration (30s) or a count (30000x). CI uses a count:
# with a duration, go1.26's fuzz coordinator can fail a clean run with
# "context deadline exceeded" at the deadline (golang/go#75804).
FUZZTIME      ?= 30s
FUZZMINIMIZE  ?= 100x
BENCHTIME     ?= 1s
BENCH_DURATION ?= 10s
BENCH_ROUNDS  ?= 3
HTTP_ADDR     ?= 127.0.0.1:8080

.PHONY: all build run test test-unit test-interop test-benchmarks bench bench-e2e fuzz lint fmt clean

all: build test

build:
	$(GO) build -o bin/meshgate ./cmd/meshgate

## run: start meshgate on its embedded default (HTTP on $(HTTP_ADDR), built-in demo Motan2 service on 127.0.0.1:9981)
run:
	$(GO) run ./cmd/meshgate run --http-addr $(HTTP_ADDR)

## test: unit, conformance and end-to-end tests (race detector on), then the interop and benchmark modules
test: test-unit test-interop test-benchmarks

test-unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	# allocation budgets, which the race detector would distort
	$(GO) test -count=1 -run 'Alloc' ./...

test-interop:
	cd interop && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 15m ./...

test-benchmarks:
	cd benchmarks && $(GO) vet ./... && $(GO) test -count=1 ./...

## bench: codec and transport benchmarks, ours next to motan-go v1.2.0 in the same run
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./motan2/
	cd interop && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## bench-e2e: end to end with wrk, BENCH_ROUNDS interleaved runs of BENCH_DURATION per target (benchmarks/README.md):
## HTTP -> Motan2 (meshgate, the motan-go v1.2.0 agent, direct Motan2), then
## HTTP/JSON -> gRPC (meshgate, grpc-gateway v2.28.0 generated code, direct gRPC)
bench-e2e:
	cd benchmarks && BENCH_DURATION=$(BENCH_DURATION) BENCH_ROUNDS=$(BENCH_ROUNDS) $(GO) run ./cmd/e2e

## fuzz: run every native fuzz target for FUZZTIME each
fuzz:
	@set -e; for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go' | grep -v -e '^interop/' -e '^benchmarks/')); do \
		pkg=./$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/func //'); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
		done; \
	done

## lint: formatting, vet and staticcheck (pinned)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd interop && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	cd benchmarks && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
