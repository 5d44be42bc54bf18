# TaskFlow. Newcomers need two targets: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

DAPR_VERSION := 1.18.0
# DAPR_BUILD names one build of tools/dapr: bump it with every change there
# (devstack.DaprBuild follows it; a test checks), so machines rebuild.
# b2: go-etcd-cron v0.12.6, whose informer survives a restart on old data.
# b3: the binaries report their version (metadata API, ops view) instead of "edge".
# b4: daprd from tools/dapr/daprd, with only the components TaskFlow uses.
# b5: linked without the symbol table and DWARF (-s -w): a third smaller.
DAPR_BUILD := $(DAPR_VERSION)-b5
# Dapr runtime binaries: an official install in ~/.dapr/bin when it has all
# three, otherwise built once per machine and build into a per-user cache
# (a fresh clone reuses it) and linked from the git-ignored .dapr-bin.
DAPR_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/taskflow/dapr-$(DAPR_BUILD)
ifeq ($(wildcard $(HOME)/.dapr/bin/daprd $(HOME)/.dapr/bin/placement $(HOME)/.dapr/bin/scheduler),$(HOME)/.dapr/bin/daprd $(HOME)/.dapr/bin/placement $(HOME)/.dapr/bin/scheduler)
DAPR_BIN_DIR ?= $(HOME)/.dapr/bin
else
DAPR_BIN_DIR ?= $(DAPR_CACHE)
endif
export DAPR_BIN_DIR

GO ?= go
GOFLAGS_TEST ?= -race -count=1
TEST_TIMEOUT ?= 18m
# vet compiles every dependency; with the tests' -race it compiles them as the
# tests will, so a cold machine compiles each once instead of twice.
VETFLAGS ?= -race
# The compiler collects garbage less often with GOGC=400: a cold `make test`
# compiles about 1,100 CPU-seconds of Go, and this takes a tenth off (a cold
# `go vet -race` of tools/k8scheck: 196 CPU-seconds instead of 223). Only
# for compiling: the tests' own processes keep the default.
BUILD_ENV := GOGC=400
CMDS := actors api notifier auditor taskflow devkafka loadgen

.PHONY: help run build dapr test test-unit test-k8s lint bench fuzz chaos clean chromium

help: ## List the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: dapr build ## Start the whole stack from dapr.yaml (Ctrl-C stops it).
	./bin/taskflow run

build: ## Build the apps and tools into bin/.
	$(GO) build -o bin/ $(addprefix ./cmd/,$(CMDS))

dapr: $(DAPR_BIN_DIR)/daprd $(DAPR_BIN_DIR)/placement $(DAPR_BIN_DIR)/scheduler ## Build the Dapr runtime (once per machine).
	@ln -sfn $(DAPR_BIN_DIR) .dapr-bin

# The runtime builds from tools/dapr, a module of its own: placement and
# scheduler as upstream has them, daprd from tools/dapr/daprd (upstream's
# runtime with only the components TaskFlow uses compiled in, which makes a
# cold build take about half as long as upstream's all-stable-components one).
# One `go build` for the three: it compiles their shared packages once and
# links them in parallel. Into a temporary directory first, so that an
# interrupted build leaves nothing that looks finished.
$(DAPR_CACHE)/daprd $(DAPR_CACHE)/placement $(DAPR_CACHE)/scheduler &:
	@mkdir -p $(DAPR_CACHE)
	@echo "building Dapr $(DAPR_VERSION) (daprd, placement, scheduler) into $(DAPR_CACHE) (first time only; a cold machine takes minutes)"
	tmp=$$(mktemp -d $(DAPR_CACHE)/.build-XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
	  cd tools/dapr && $(BUILD_ENV) $(GO) build -trimpath -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" \
	    -o "$$tmp/" ./daprd github.com/dapr/dapr/cmd/placement github.com/dapr/dapr/cmd/scheduler && \
	  mv "$$tmp/daprd" "$$tmp/placement" "$$tmp/scheduler" $(DAPR_CACHE)/

# On two cores a cold `make test` is CPU-bound while it compiles and mostly
# waiting once the end-to-end tests run. So the Dapr build, lint (which
# compiles every dependency as the race-enabled tests will) and Chromium's
# install go first, in parallel, then `go test`; the Kubernetes checks, which
# nothing waits for, run beside all of it at the lowest priority, on the
# CPU the others leave idle. Their output follows go test's, and make test
# waits for them whatever happens. go test skips its own vet pass, a subset
# of what lint has just run.
test: ## Everything CI runs: unit, integration, end-to-end and browser tests with -race.
	@echo "in parallel: the Dapr runtime, Chromium and lint, then go test; the Kubernetes checks beside them at low priority"
	@mkdir -p .run; log=.run/test-k8s.log; \
	nice -n 19 $(MAKE) --no-print-directory test-k8s >$$log 2>&1 & k8s=$$!; \
	$(MAKE) --no-print-directory -j3 --output-sync=target dapr chromium lint && \
	  TASKFLOW_FULL_TESTS=1 $(GO) test $(GOFLAGS_TEST) -vet=off -timeout $(TEST_TIMEOUT) ./...; rc=$$?; \
	wait $$k8s; k8src=$$?; echo "--- make test-k8s (exit $$k8src):"; cat $$log; \
	[ $$rc -eq 0 ] && [ $$k8src -eq 0 ]

# tools/k8scheck is a module of its own (kustomize, k8s.io/*, compose-go stay
# out of the apps' go.mod): it renders the k8s/ overlays and checks them
# strictly, and checks docker-compose.yml and the dashboards. No cluster needed.
test-k8s: ## The Kubernetes, Compose and monitoring checks (tools/k8scheck), no cluster needed.
	cd tools/k8scheck && $(BUILD_ENV) $(GO) vet $(VETFLAGS) ./... && $(GO) test $(GOFLAGS_TEST) ./...

chromium: ## Debian's Chromium for the browser tests (installed once per machine).
	@command -v chromium >/dev/null || { echo "installing chromium (apt-get)"; \
	  (apt-get install -y chromium >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)) ; }
	@command -v chromium >/dev/null || { echo "chromium is needed for the browser tests: apt-get install -y chromium"; exit 1; }

test-unit: ## Only the fast tests that need no PostgreSQL or Dapr.
	$(GO) test $(GOFLAGS_TEST) ./task ./auth ./actors

lint: ## gofmt and go vet.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(BUILD_ENV) $(GO) vet $(VETFLAGS) ./...

bench: dapr build ## Every performance figure in one table, on a stack of its own (about 9 minutes).
	./bin/loadgen -phases all -clients 32 -duration 20s -gomaxprocs 1
	$(GO) test -run '^$$' -bench . -benchmem ./task ./actors ./postgres ./recurrence

chaos: dapr ## The long fault run: 10,000 writes while every process is killed -9 in turn (make test runs a short one).
	TASKFLOW_CHAOS_OPS=$${CHAOS_OPS:-10000} TASKFLOW_FULL_TESTS=1 $(GO) test -race -count=1 -timeout 30m -run '^TestChaos$$' -v ./e2e

fuzz: ## Run every fuzz target for FUZZTIME (default 30s; 1000000x for a million inputs) each, keeping what it found in testdata/fuzz.
	@for target in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$target/*_test.go | cut -d' ' -f2); do \
	    echo "== $$target $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$target || exit 1; \
	    mkdir -p $$target/testdata/fuzz/$$f; \
	    cp -n $$($(GO) env GOCACHE)/fuzz/github.com/taskflow/taskflow/$${target#./}/$$f/* $$target/testdata/fuzz/$$f/ 2>/dev/null || true; \
	  done; \
	done

clean: ## Remove build output and local logs (keeps the Dapr cache).
	rm -rf bin .run .dapr-bin
