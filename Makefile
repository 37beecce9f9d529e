# cairn — the two commands a new machine needs are `make demo` and `make test`.
# Everything the tests use beyond Go is installed here (tools), never assumed.

GO      ?= go
BIN     := bin/cairn
PKGS    := ./...
export GOFLAGS := -buildvcs=false

.PHONY: all build demo test test-short tools bench bench-peers measure fuzz fuzz-short vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cairn

# The main job, offline, on the example repos with a fresh SQLite state:
# compile → check → plan → apply → audit.
demo: build
	bash scripts/demo.sh $(abspath $(BIN))

# Every test. CI sets CAIRN_REQUIRE_TOOLS=1 and CAIRN_REQUIRE_POSTGRES=1 so
# that a missing promtool or PostgreSQL fails instead of skipping. The race
# detector runs on the one test whose point is a race: eval reading a bundle
# while its token counts are still being written (compiler.DeferCounts).
test: tools
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) test -race -count=1 -run 'TestDeferCounts' ./compiler
	$(MAKE) fuzz-short

# The fuzz targets of the hostile-input readers, briefly (CI runs this too):
# saved plans, CSV data files, RAG documents.
fuzz-short:
	$(GO) test ./reconciler -run '^$$' -fuzz FuzzDecodePlan -fuzztime 3s
	$(GO) test ./data -run '^$$' -fuzz FuzzCSV -fuzztime 3s
	$(GO) test ./rag -run '^$$' -fuzz FuzzParse -fuzztime 3s

test-short:
	$(GO) test -short $(PKGS)

# Real validators and servers the tests run: promtool checks the rendered
# Prometheus rules and the Prometheus server scrapes a test model server for
# canary analysis (Debian prometheus), Alertmanager delivers alerts to cairn
# and amtool checks its config (Debian prometheus-alertmanager), xmllint checks JUnit output against Jenkins' XSD
# (Debian libxml2-utils), headless chromium loads the HTML reports (Debian
# chromium), cue vets the examples with `cairn schema --package` (go install
# at the go.mod version of cuelang.org/go).
CUE_VERSION = $(shell $(GO) list -m -f '{{.Version}}' cuelang.org/go)
tools:
	@missing=; { command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v amtool >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v xmllint >/dev/null 2>&1 || missing="$$missing libxml2-utils"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian, --no-install-recommends)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| echo "warning: could not install$$missing; their tests will skip (or fail under CAIRN_REQUIRE_TOOLS=1)"; \
	fi
	@command -v cue >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH)/bin/cue" ] || { \
		echo "installing cue $(CUE_VERSION) (go install, the go.mod version)"; \
		GOFLAGS= $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION) || echo "warning: could not install cue; its tests will skip (or fail under CAIRN_REQUIRE_TOOLS=1)"; }
	@command -v promtool >/dev/null 2>&1 && promtool --version 2>&1 | head -1 || true
	@command -v prometheus-alertmanager >/dev/null 2>&1 && prometheus-alertmanager --version 2>&1 | head -1 || true
	@command -v xmllint >/dev/null 2>&1 && xmllint --version 2>&1 | head -1 || true
	@command -v chromium >/dev/null 2>&1 && chromium --headless --version 2>/dev/null | head -1 || true

# Benchmarks on generated large inputs; the README's Performance section quotes these.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x -benchmem ./compiler
	$(GO) test -run '^$$' -bench CheckLarge -benchtime 3x -benchmem ./policies
	$(GO) test -run '^$$' -bench CheckAfterEdit -benchtime 5x ./pipeline
	$(GO) test -run '^$$' -bench 'Eval1000|EvalFaults' -benchtime 1x ./evals
	$(GO) test -run '^$$' -bench 10k -benchtime 5x -benchmem ./rag
	$(GO) test -run '^$$' -bench ValidateAndDrift -benchtime 1x ./data
	$(GO) test -run '^$$' -bench Render -benchtime 50x -benchmem ./targets
	$(GO) test -run '^$$' -bench Workers -benchtime 1x ./evals/distributed
	$(GO) test -run '^$$' -bench 'Predictions(10M|Bootstrap)' -benchtime 1x ./evals/classic
	$(GO) test -run '^$$' -bench 'Lineage' -benchtime 200x -benchmem ./lineage
	$(GO) test -run '^$$' -bench 'Operating' -benchtime 3x -benchmem ./operating
	$(GO) test -run '^$$' -bench 'Report1M' -benchtime 3x -benchmem ./compliance

# cairn against the tools it replaces (cue vet + opa eval), in one run, with
# the peers installed at the go.mod versions; prints the README's table.
bench-peers:
	bash scripts/bench-peers.sh

# The offline scorers' quality on the labelled sets in ../shared/data.
measure:
	$(GO) run ./cmd/evalmeasure -toxicity ../shared/data/toxicity/surge-toxicity_en.csv \
		-toxicity-heldout ../shared/data/toxicity/davidson-labeled_data.csv \
		-factuality ../shared/data/factuality/truthfulqa-first600.csv

fuzz:
	$(GO) test ./compiler -run '^$$' -fuzz FuzzCompile -fuzztime 60s
	$(GO) test ./reconciler -run '^$$' -fuzz FuzzDecodePlan -fuzztime 60s
	$(GO) test ./data -run '^$$' -fuzz FuzzCSV -fuzztime 60s
	$(GO) test ./rag -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./policies -run '^$$' -fuzz FuzzJSONValue -fuzztime 60s
	$(GO) test ./tokens -run '^$$' -fuzz FuzzCountAgrees -fuzztime 60s

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w .

clean:
	rm -rf bin
