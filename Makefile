# Thin wrapper over CMake. `make run` and `make test` work on a fresh machine: they
# install missing Debian packages first (scripts/install-deps.sh, quiet when present).
BUILD      ?= build
DEBUG_DIR  ?= build-debug
JOBS       ?= 2
NODE_DIR   := tests/compat/node

.PHONY: all deps build run test debug bench node-deps clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Starts the server with embedded defaults: port 4222, data in ./data.
run: build
	@mkdir -p data
	./$(BUILD)/dialtone-server --store_dir ./data $(ARGS)

node-deps: deps
	@if [ ! -d $(NODE_DIR)/node_modules ]; then \
	  echo "installing node test clients (npm ci)"; \
	  cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

test: build node-deps
	@cd $(BUILD) && ctest --output-on-failure

# The whole test suite against an ASan+UBSan build.
debug: deps node-deps
	@cmake -S . -B $(DEBUG_DIR) -DCMAKE_BUILD_TYPE=Debug -DDIALTONE_SANITIZE=ON -DDIALTONE_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(DEBUG_DIR) -j$(JOBS)
	@cd $(DEBUG_DIR) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure

bench: build
	@./scripts/install-deps.sh --bench
	@./bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(DEBUG_DIR)
