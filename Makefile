# The pump's build, test and benchmark entry points. `make help` lists them.
GO       ?= go
BIN      := bin/pump
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 10s
# FerretDB (MongoDB wire protocol) for the mongo sink's tests: a module of
# its own so its dependencies stay out of the daemon's go.mod.
FERRETDB := bin/ferretdb-test

.PHONY: help build man docs test test-deps lint fuzz bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/pump
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pump

man: build ## the manual page bin/pump.1 and the completion scripts bin/pump.{bash,zsh,fish}
	$(BIN) man > bin/pump.1
	for sh in bash zsh fish; do $(BIN) completion $$sh > bin/pump.$$sh; done

docs: ## rewrite the sinks' README meta tables from their Config structs (a test fails when they drift)
	$(GO) test -count=1 -run '^TestSinkREADMEsMatchTheirConfig$$' ./pumps/all -update

demo: ## build bin/pump and bin/pump-demo, then run the pump against an embedded Redis fed with iam records (Ctrl-C stops)
	@echo "demo: building bin/pump and bin/pump-demo; the packages are listed as they compile (a first build: about 470, minutes on a busy machine; later builds: seconds)"
	@CGO_ENABLED=0 $(GO) build -v -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pump
	@$(GO) build -v -o bin/pump-demo ./cmd/pump-demo
	@echo "demo: built; starting bin/pump-demo, which runs bin/pump"
	@bin/pump-demo

test-deps: ## install what the tests need (redis-server, ...) when missing
	@./scripts/test-deps.sh

$(FERRETDB): internal/testing/testenv/mongo/main.go internal/testing/testenv/mongo/go.mod internal/testing/testenv/mongo/go.sum
	cd internal/testing/testenv/mongo && $(GO) build -o $(CURDIR)/$(FERRETDB) .

test: test-deps $(FERRETDB) ## all tests with the race detector, then a short fuzz of the decoders
	PUMP_TEST_FERRETDB=$(CURDIR)/$(FERRETDB) $(GO) test -race -count=1 -timeout 60m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./analytics
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./config

fuzz: ## fuzz the decoders and the config loader for longer
	$(MAKE) test-fuzz FUZZTIME=5m

test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./analytics
	$(GO) test -run '^$$' -fuzz '^FuzzAppendRow$$' -fuzztime $(FUZZTIME) ./pumps/csv
	$(GO) test -run '^$$' -fuzz '^FuzzAppendJSONString$$' -fuzztime $(FUZZTIME) ./analytics
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseObject$$' -fuzztime $(FUZZTIME) ./filter
	$(GO) test -run '^$$' -fuzz '^FuzzKeep$$' -fuzztime $(FUZZTIME) ./filter

lint: ## gofmt and go vet, for Linux and cross-vetted for darwin and windows (the bench is Linux-only: perf events)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd internal/testing/testenv/mongo && $(GO) vet ./...
	for os in darwin windows; do GOOS=$$os $(GO) vet $$($(GO) list ./... | grep -v /cmd/pumpbench) || exit 1; done

bench: test-deps $(FERRETDB) ## drain benchmark: the pump into every sink against a raw LPOP drain, same run (RECORDS, SLOW_RECORDS, SINKS)
	$(GO) run ./cmd/pumpbench -records $${RECORDS:-1000000} -slow-records $${SLOW_RECORDS:-200000} \
		-sinks $${SINKS:-all} -ferretdb $(CURDIR)/$(FERRETDB) -out bench/results.md

clean:
	rm -rf bin demo-out
