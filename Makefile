# Parley — `make help` lists the targets. Everything a target needs is
# installed by the target itself (Go tools via the module proxy, npm packages
# via package-lock.json), so `make test` works on a fresh machine.

GO        ?= go
STATICCHECK_VERSION := v0.8.2
GOBIN     := $(CURDIR)/bin
# Fuzz budgets are execution counts: a wall-clock -fuzztime can fail spuriously
# with "context deadline exceeded" on Go 1.26 (go.dev/issue/75804).
FUZZTIME  ?= 100000x
BENCHTIME ?= 2s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## start a dev server on 127.0.0.1:7880 (bare identities, no config, no Redis)
	$(GO) run ./cmd/parley serve --dev

# The release build: a static binary (no libc: it runs on any Linux, in a
# distroless image too), without build paths, stamped with the VCS revision
# (parley version). deploy/container/Containerfile builds it the same way.
.PHONY: cluster
cluster: ## a local cluster: redis-server and three dev nodes on 127.0.0.1:7881–7883 (TURN 3481–3483); prints their URLs; Ctrl-C stops it
	./scripts/cluster.sh

.PHONY: build
build: ## build bin/parley (static, with the VCS revision for parley version)
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags=-s -o bin/parley ./cmd/parley

.PHONY: generate
generate: clients/ts/node_modules ## regenerate api/*_gen.go, api/apirpc, the clients' generated code, api/PROTOCOL.md and clients/ts/dist from api/parley.openrpc.json
	$(GO) run ./cmd/parley-gen
	cd clients/ts && npm run --silent build

.PHONY: check-generated
GENERATED := 'api/*_gen.go' 'api/apirpc/*_gen.go' api/PROTOCOL.md clients/ts/src/gen clients/ts/dist 'clients/go/parley/*_gen.go'
check-generated: generate ## fail if generated files differ from what is committed (new untracked outputs too)
	@status=$$(git status --porcelain -- $(GENERATED)); \
	if [ -n "$$status" ]; then \
		echo "generated code is stale or uncommitted; run 'make generate' and commit:"; echo "$$status"; \
		git --no-pager diff --stat -- $(GENERATED); exit 1; \
	fi

$(GOBIN)/staticcheck:
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clients/ts/node_modules: clients/ts/package-lock.json
	cd clients/ts && npm ci --no-audit --no-fund
	@touch $@

openapi/node_modules: openapi/package-lock.json
	cd openapi && npm ci --no-audit --no-fund
	@touch $@

e2e/node_modules: e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund
	@touch $@

# The tests' webhook receiver verifies deliveries with the standardwebhooks
# npm package (internal/testkit/webhookrecv).
WEBHOOK_RECEIVER := internal/testkit/webhookrecv
$(WEBHOOK_RECEIVER)/node_modules: $(WEBHOOK_RECEIVER)/package-lock.json
	cd $(WEBHOOK_RECEIVER) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: lint
lint: $(GOBIN)/staticcheck ## gofmt, go vet, staticcheck, import rules
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...
	./scripts/check-imports.sh

.PHONY: ts-check
ts-check: clients/ts/node_modules ## tsc --strict over the TypeScript client and its tests
	cd clients/ts && npm run --silent typecheck

.PHONY: ts-test
ts-test: clients/ts/node_modules ## vitest: the TS client's unit tests and its integration test against the real binary
	cd clients/ts && npm test

.PHONY: check-docs
check-docs: openapi/node_modules ## validate openapi/parley.openapi.yaml (swagger-parser) and api/parley.openrpc.json (OpenRPC meta-schema)
	cd openapi && npm run --silent check

.PHONY: test-go
test-go: $(WEBHOOK_RECEIVER)/node_modules ## go test -race over every package (a test tool missing is a failure here, not a skip), then the server's tests again in cluster mode on a real redis-server
	REQUIRE_TEST_TOOLS=1 $(GO) test -race -count=1 ./...
	PARLEY_TEST_STORE=redis $(GO) test -race -count=1 ./server

.PHONY: e2e
e2e: deps e2e/node_modules ## browser tests: headless chromium + the TS client against the real binary, the echobot and Parley's TURN
	./e2e/run.sh

.PHONY: fuzz
fuzz: ## a short run of every fuzz target (FUZZTIME=100000x executions each)
	$(GO) test -run='^$$' -fuzz='^FuzzDispatch$$' -fuzztime=$(FUZZTIME) ./rpc
	$(GO) test -run='^$$' -fuzz='^FuzzValidJSON$$' -fuzztime=$(FUZZTIME) ./rpc
	$(GO) test -run='^$$' -fuzz='^FuzzFrames$$' -fuzztime=$(FUZZTIME) ./rpc
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeParams$$' -fuzztime=$(FUZZTIME) ./api
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeParams$$' -fuzztime=$(FUZZTIME) ./rpc
	$(GO) test -run='^$$' -fuzz='^FuzzAppendFrame$$' -fuzztime=$(FUZZTIME) ./rpc
	$(GO) test -run='^$$' -fuzz='^FuzzPlainCandidate$$' -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run='^$$' -fuzz='^FuzzSDP$$' -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run='^$$' -fuzz='^FuzzSDPLiteral$$' -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run='^$$' -fuzz='^FuzzRespond$$' -fuzztime=$(FUZZTIME) ./turn/binding
	$(GO) test -run='^$$' -fuzz='^FuzzSTUN$$' -fuzztime=$(FUZZTIME) ./turn

.PHONY: deps
deps: ## install the Debian packages the tests use (coturn, redis-server, nftables, iproute2, …) where missing
	./scripts/install-deps.sh

.PHONY: test
test: deps check-generated lint check-docs ts-check ts-test test-go e2e fuzz ## everything CI runs

.PHONY: abuse
abuse: ## the abuse suite at full size against the real binary (internal/abuse), with its figures
	ABUSE_FULL=1 $(GO) test -count=1 -v -timeout 30m ./internal/abuse

.PHONY: test-cluster
test-cluster: deps ## the cluster suite at full size (internal/cluster: 5 SIGKILL runs of 1,000 messages, …) on real nodes and a real redis-server, with its figures
	CLUSTER_FULL=1 $(GO) test -count=1 -v -timeout 20m ./internal/cluster

.PHONY: bench
bench: deps ## Go benchmarks and the loopback load generators (signaling; STUN/TURN beside coturn); prints the figures
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...
	$(GO) run ./cmd/parley-load
	$(GO) run ./cmd/parley-turnload

.PHONY: bench-cluster
bench-cluster: deps ## cluster mode's figures: 3 nodes on a local redis-server (relay latency same-node, cross-node and on one memory node; throughput; Redis commands and CPU per message; SIGKILL to resumed)
	$(GO) run ./cmd/parley-load -cluster 3 -rate 2000

.PHONY: clean
clean:
	rm -rf bin clients/ts/node_modules openapi/node_modules e2e/node_modules e2e/artifacts $(WEBHOOK_RECEIVER)/node_modules
