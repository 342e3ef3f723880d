# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install java-deps bench bench-jms bench-deps clean

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

# stomp.js for the WebSocket tests, and Node.js to run it where the machine lacks it.
JS_STAMP := tests/js/node_modules/.installed-$(shell cat tests/js/package-lock.json | cksum | cut -d' ' -f1)

$(JS_STAMP): tests/js/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; }
	npm ci --prefix tests/js --no-audit --no-fund
	touch $@

# The suite mostly waits on brokers, JVMs and sockets, so it runs on TEST_WORKERS pytest-xdist
# workers, a test module per worker at a time. `make test PYTEST_ARGS=-n0` runs it in one process.
TEST_WORKERS ?= 4

test: $(STAMP) java-deps $(JS_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The OpenWire tests run ActiveMQ's own JMS client: a JDK and Debian's client jars.
JAVA_DEPS := default-jdk-headless libactivemq-java libgeronimo-jms-1.1-spec-java \
	libgeronimo-j2ee-management-1.1-spec-java libhawtbuf-java libslf4j-java
# Installed when missing (as root, as in CI); otherwise the JMS tests say what is missing
# and skip (they fail under CI=true).
java-deps:
	@if command -v javac >/dev/null 2>&1 && [ -e /usr/share/java/activemq-client.jar ] \
		&& [ -e /usr/share/java/slf4j-nop.jar ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(JAVA_DEPS); \
	else echo "JMS tests need: $(JAVA_DEPS) (run 'make java-deps' as root)"; fi

# The peers the benchmarks compare against: ActiveMQ 5.17 and RabbitMQ (STOMP plugin), from Debian.
bench-deps:
	apt-get update && apt-get install -y activemq rabbitmq-server
	service rabbitmq-server status >/dev/null 2>&1 || service rabbitmq-server start

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

# JMS throughput over OpenWire against mqgate and ActiveMQ (needs bench-deps and java-deps).
bench-jms: $(STAMP) java-deps
	$(BIN)/python -m bench.jms_load $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info
