# whitelabel — see README.md. Two commands matter: `make run` and `make test`.

GO        ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN     ?= $(shell $(GO) env GOPATH)/bin

.PHONY: run test lint fmt build bench bench-go bench-instr bench-proxy clean

## run: the whole gateway on the embedded store (demo core app, control, edge, demo tenant "acme")
run:
	$(GO) run ./cmd/devstack

## test: every test, with the race detector (PostgreSQL and Redis tests skip with a reason when they are absent, unless CI=true)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## lint: formatting, vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## build: the three programs into ./bin
build:
	$(GO) build -o bin/ ./cmd/...

## bench: Go benchmarks of the hot path, instructions per request under callgrind, then the proxy comparison (edge vs upstream, Caddy, nginx)
bench: bench-go bench-instr bench-proxy

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./edge/... ./theming/...

bench-instr:
	bench/instr.sh

bench-proxy:
	bench/proxy.sh

clean:
	rm -rf bin data
