# riverbed — make help lists the targets.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
LIB     = python/riverbed/libriverbed.so
# The test suite runs on a build of the library with test hooks (rb_debug_panic, the plan
# function debug_panic); the library users install never has them.
TESTLIB = build/testhooks/libriverbed.so
GO_SRC  = $(shell find engine state batch kafka arrowbridge capi internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

.PHONY: help install lib demo test test-go test-py chaos lint bench bench-tpch bench-checkpoint bench-cold bench-kafka profile examples screenshots wheel clean kafka-up kafka-down

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $@

$(LIB): $(GO_SRC)
	CGO_ENABLED=1 go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o $(LIB) ./capi
	rm -f python/riverbed/libriverbed.h

install: $(VENV)/.installed $(LIB) ## create .venv, install riverbed (editable) with test tools, build the engine

lib: $(LIB) ## rebuild the engine library in place

$(TESTLIB): $(GO_SRC)
	CGO_ENABLED=1 go build -buildmode=c-shared -tags riverbed_testhooks -trimpath -o $(TESTLIB) ./capi
	rm -f build/testhooks/libriverbed.h

demo: install ## run a demo job on generated data (no external service)
	$(PY) -m riverbed.demo

FUZZTIME ?= 15s

test: install lint test-go test-py ## run every test (lint, Go with -race and fuzzing, Python)

KAFKA_BROKER = kafka/testbroker/broker.sh

test-go: ## Go tests with the race detector (on a Kafka broker started for them), then each fuzz target for $(FUZZTIME)
	$(KAFKA_BROKER) run go test -race -timeout 30m ./...
	go test -race -tags riverbed_testhooks ./batch ./engine/ops/sink
	scripts/fuzz.sh ./engine FuzzExplain $(FUZZTIME)
	scripts/fuzz.sh ./engine FuzzBindPlans $(FUZZTIME)
	scripts/fuzz.sh ./engine/sql FuzzSQL $(FUZZTIME)
	scripts/fuzz.sh ./engine/expr FuzzStrptime $(FUZZTIME)
	scripts/fuzz.sh ./engine/expr FuzzStrftime $(FUZZTIME)
	scripts/fuzz.sh ./engine/expr FuzzSearch $(FUZZTIME)
	scripts/fuzz.sh ./engine/source FuzzDecodePosition $(FUZZTIME)
	scripts/fuzz.sh ./engine/source FuzzDecodeKafkaPositions $(FUZZTIME)
	scripts/fuzz.sh ./state FuzzDecodeManifest $(FUZZTIME)
	scripts/fuzz.sh ./state FuzzDecodeRow $(FUZZTIME)
	scripts/fuzz.sh ./state FuzzDecodeManifestBody $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzDecodeJSON $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzDecodeJSONFlat $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzDecodeCSV $(FUZZTIME)
	scripts/fuzz.sh ./batch FuzzReadCSV $(FUZZTIME)
	scripts/fuzz.sh ./batch FuzzCSVReader $(FUZZTIME)
	scripts/fuzz.sh ./batch FuzzReadNDJSON $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzDecodeRaw $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzDecodeIPC $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzInferJSONSchema $(FUZZTIME)
	scripts/fuzz.sh ./kafka FuzzResolveAvro $(FUZZTIME)
	scripts/fuzz.sh ./internal/textcodec FuzzJSONRow $(FUZZTIME)
	scripts/fuzz.sh ./internal/textcodec FuzzJSONFlatReader $(FUZZTIME)
	scripts/fuzz.sh ./internal/textcodec FuzzParseDecimal $(FUZZTIME)

kafka-up: ## start a Kafka broker on loopback for tests; prints the export that points the tests at it
	@echo "export RIVERBED_KAFKA_BROKERS=$$($(KAFKA_BROKER) start)"

kafka-down: ## stop the broker that kafka-up started
	@$(KAFKA_BROKER) stop

test-py: install $(TESTLIB) ## Python end-to-end tests (on the library built with test hooks; on a Kafka broker started for them)
	scripts/install-chromium.sh --optional >/dev/null
	RIVERBED_LIBRARY=$(CURDIR)/$(TESTLIB) $(KAFKA_BROKER) run $(PY) -m pytest

CHAOS_KILLS ?= 60
CHAOS_KAFKA_KILLS ?= 50

chaos: install ## kill -9 checkpointed jobs at random moments: $(CHAOS_KILLS) times writing Parquet, $(CHAOS_KAFKA_KILLS) times Kafka to Kafka exactly-once (on a broker started for it); print the tally (rows lost/duplicated must be 0)
	RIVERBED_PROGRESS=0 $(KAFKA_BROKER) run $(PY) tests/chaos.py --kills $(CHAOS_KILLS) --kafka-kills $(CHAOS_KAFKA_KILLS) --backend $(or $(CHAOS_BACKEND),memory)

lint: install ## gofmt, go vet, ruff, mypy
	@test -z "$$(gofmt -l engine state batch kafka arrowbridge capi internal)" || (echo "gofmt needed:"; gofmt -l engine state batch kafka arrowbridge capi internal; false)
	go vet ./...
	go vet -tags riverbed_testhooks ./capi ./engine/expr ./batch ./engine/ops/sink
	$(PY) -m ruff check python tests bench examples
	$(PY) -m mypy python/riverbed

bench: install ## run the benchmarks (Parquet, TPC-H SF1, a 20M x 1M join and a 20M-row sort vs DuckDB/Polars, Nexmark and the fraud detector vs PyFlink, checkpoints, a group_by beyond its memory cap, Kafka, cold start) into bench/RESULTS.md
	$(PY) bench/parquet_bench.py
	$(PY) bench/tpch.py --scale $(TPCH_SCALE)
	$(PY) bench/join_bench.py
	$(PY) bench/sort_bench.py
	$(PY) bench/nexmark_bench.py --queries $(NEXMARK_BASE)
	$(PY) bench/nexmark_bench.py --events 2000000 --queries $(NEXMARK_MORE)
	$(PY) bench/procfn_bench.py
	$(PY) bench/checkpoint_bench.py
	$(PY) bench/groupby_spill_bench.py
	$(KAFKA_BROKER) run $(PY) bench/kafka_bench.py
	$(PY) bench/cold_start.py

TPCH_SCALE ?= 1
# Nexmark at 20M events against PyFlink; q3, q4, q9-q22 at 2M (bench/nexmark_bench.py says why)
NEXMARK_BASE = q0,q1,q2,q5,q7,q8
NEXMARK_MORE = q3,q4,q9,q10,q11,q12,q13,q14,q15,q16,q17,q18,q19,q20,q21,q22

bench-tpch: install ## only the TPC-H benchmark: 22 queries vs DuckDB/Polars at TPCH_SCALE (default 1)
	$(PY) bench/tpch.py --scale $(TPCH_SCALE)

bench-checkpoint: install ## only the checkpoint benchmark: cost at 10 s / 1 s, memory vs Pebble, recovery time
	$(PY) bench/checkpoint_bench.py

bench-kafka: install ## only the Kafka benchmark: throughput vs confluent-kafka and PyFlink, a windowed aggregation vs Quix Streams and PyFlink, end-to-end latency (on a broker started for it)
	$(KAFKA_BROKER) run $(PY) bench/kafka_bench.py

profile: install ## CPU profile of one Nexmark query (Q=q5): build/profiles/$(Q).cpu.pprof and its top functions
	$(PY) bench/profile_query.py $(or $(Q),q5) $(if $(EVENTS),--events $(EVENTS))

bench-cold: install ## only the cold-start benchmark (first row from a fresh interpreter vs Polars/DuckDB)
	$(PY) bench/cold_start.py

examples: install ## execute the example notebooks (on a Kafka broker started for them) and save them with their outputs
	$(KAFKA_BROKER) run $(PY) examples/execute.py --save

screenshots: install ## render the executed example notebooks in headless Chromium into docs/images/ (installs chromium)
	scripts/install-chromium.sh >/dev/null
	$(PY) examples/screenshot.py

wheel: ## build a platform wheel into dist/
	$(PYTHON) -m pip wheel --no-deps -w dist .

clean: ## remove build outputs and the virtualenv
	rm -rf $(VENV) build dist python/*.egg-info $(LIB) python/riverbed/libriverbed.h
