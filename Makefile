# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install bench bench-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/mqgate serve $(ARGS)

# stomp.js for the WebSocket tests (node and npm are required, as Python is).
JS_STAMP := tests/js/node_modules/.installed-$(shell cat tests/js/package-lock.json | cksum | cut -d' ' -f1)

$(JS_STAMP): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund
	touch $@

test: $(STAMP) $(JS_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The peers the benchmarks compare against: ActiveMQ 5.17 and RabbitMQ (STOMP plugin), from Debian.
bench-deps:
	apt-get update && apt-get install -y activemq rabbitmq-server
	service rabbitmq-server status >/dev/null 2>&1 || service rabbitmq-server start

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info
