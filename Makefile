# driftless — make help lists the targets.
SHELL      := /bin/bash
GO         ?= go
GOFLAGS_P  ?= -p 2
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
BIN        := bin/driftless
export GIT_CONFIG_GLOBAL := /dev/null
export GIT_CONFIG_NOSYSTEM := 1
export CGO_ENABLED := 0

# Packages with concurrency, run again under the race detector.
RACE_PKGS := ./reconciler/... ./state/... ./notify/... ./internal/kv/... ./internal/natsd/... ./internal/api/... ./internal/redact/... ./sources/... ./driftpr/... ./preview/...

FUZZTIME ?= 30s

.PHONY: help build test test-short race fuzz demo bench verify fmt vet tidy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/driftless (static, version stamped)
	$(GO) build $(GOFLAGS_P) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/driftless

test: ## every test: units, integration (real Terraform, moto, NATS, Git, slacktest), CLI; then the race detector
	$(GO) test $(GOFLAGS_P) -count=1 -timeout 40m ./...
	CGO_ENABLED=1 $(GO) test $(GOFLAGS_P) -count=1 -race -timeout 20m $(RACE_PKGS)

test-short: ## quick loop: skips the slow end-to-end suites
	$(GO) test $(GOFLAGS_P) -short ./...

race: ## the race detector on the concurrent packages
	CGO_ENABLED=1 $(GO) test $(GOFLAGS_P) -count=1 -race $(RACE_PKGS)

fuzz: ## run each fuzzer for FUZZTIME (default 30s)
	$(GO) test $(GOFLAGS_P) -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./manifest/
	for f in FuzzGitHubWebhook FuzzGitHubFormWebhook FuzzGitLabWebhook FuzzGiteaWebhook; do \
		$(GO) test $(GOFLAGS_P) -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/api/ || exit 1; \
	done
	$(GO) test $(GOFLAGS_P) -run '^$$' -fuzz '^FuzzParsePR$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./sources/

demo: build ## a real reconcile: moto + Git repo from examples/ + driftless on embedded NATS
	./examples/demo.sh

bench: ## benchmarks, printed as a table
	./scripts/bench.sh

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet ./...

tidy: ## go mod tidy
	$(GO) mod tidy

verify: fmt vet tidy ## fail on a dirty tree after fmt, vet and tidy
	@git diff --exit-code || (echo "verify: the tree changed after fmt/tidy; commit the result" && exit 1)
	@test -z "$$(git status --porcelain)" || (git status --porcelain && echo "verify: untracked or modified files" && exit 1)

clean: ## remove build and demo output
	rm -rf bin .demo
