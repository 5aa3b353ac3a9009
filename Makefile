# The commands the README names. Everything runs from a clean checkout.
SHELL := /bin/bash
GO ?= go
PKGS := ./...

.PHONY: run policy-demo test check fmt-check vet race bench fuzz build clean

## run: the main job: the console (embedded SQLite, demo data) and a demo
## gateway connected to it, until Ctrl-C. The console prints its URL and an
## admin login and writes the demo gateway's one-time registration token;
## the gateway registers with it, enforces the console's devices, users,
## policies and resources, sends it its events and status, and prints the
## wg-quick config of ann-laptop, a device enrolled in the demo console whose
## private key the console wrote next to the token. apps/console's
## TestMakeRunDemo runs this path and fetches a demo app with that config.
CONSOLE_LISTEN ?= 127.0.0.1:8080
run: build
	@tmp=$$(mktemp -d); \
	./bin/console demo -listen $(CONSOLE_LISTEN) -token-file $$tmp/token -device-key-file $$tmp/ann.key & console=$$!; \
	trap 'kill $$console 2>/dev/null; rm -rf $$tmp' EXIT INT TERM; \
	for i in $$(seq 300); do [ -s $$tmp/token ] && break; kill -0 $$console 2>/dev/null || exit 1; sleep 0.1; done; \
	[ -s $$tmp/token ] || { echo "make run: the console wrote no registration token"; exit 1; }; \
	./bin/gateway demo --console http://$(CONSOLE_LISTEN) --token-file $$tmp/token --device-key $$tmp/ann.key

## policy-demo: check the shipped example policies and decide sample requests.
policy-demo:
	$(GO) build -o bin/gateway ./apps/gateway
	@for f in examples/policies/*.yaml; do echo "== gateway policy check $$f"; ./bin/gateway policy check $$f || exit 1; done
	@echo "== gateway policy eval --policy examples/policies/enterprise.yaml --requests examples/policies/requests.jsonl --explain"
	@./bin/gateway policy eval --policy examples/policies/enterprise.yaml --requests examples/policies/requests.jsonl --explain

## test: everything CI runs: formatting, vet, the race-enabled suite, and
## the bench module's checks that compared engines decide alike.
test: fmt-check vet race
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## race keeps the suite's output and, when it fails, repeats every data
## race report and failed test at the end, where a CI log that shows only
## its tail still shows what failed and both sides of a race.
race:
	@log=$$(mktemp); status=0; \
	$(GO) test -race -count=1 -timeout 30m $(PKGS) 2>&1 | tee $$log; status=$${PIPESTATUS[0]}; \
	if [ $$status -ne 0 ]; then \
	  echo "=== summary of the failure ==="; \
	  grep -n -A60 "WARNING: DATA RACE" $$log | head -400; \
	  grep -n -e "^--- FAIL" -e "^FAIL" -e "^panic:" $$log; \
	fi; rm -f $$log; exit $$status

## bench: in-package benchmarks and the cross-system comparisons in bench/.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: a short run of every fuzz target (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./apps/gateway ./apps/console

clean:
	rm -rf bin
