# Thin wrapper over CMake. `make run` and `make test` work on a fresh machine: they
# install missing Debian packages first (scripts/install-deps.sh, quiet when present).
BUILD      ?= build
DEBUG_DIR  ?= build-debug
TSAN_DIR   ?= build-tsan
JOBS       ?= 2
NODE_DIR   := tests/compat/node

# No "Entering directory" lines around the build's own output.
MAKEFLAGS += --no-print-directory

.PHONY: all deps build run test debug tsan bench node-deps clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Starts the server with embedded defaults: port 4222, JetStream with data in ./data.
run: build
	@mkdir -p data
	./$(BUILD)/dialtone-server --jetstream --store_dir ./data $(ARGS)

node-deps: deps
	@if [ ! -d $(NODE_DIR)/node_modules ]; then \
	  echo "installing node test clients (npm ci)"; \
	  cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

# The suite on the release build, then again on a ThreadSanitizer build (make tsan).
test: build node-deps
	@cd $(BUILD) && ctest --output-on-failure
	@$(MAKE) tsan

# The whole test suite against an ASan+UBSan build.
debug: deps node-deps
	@cmake -S . -B $(DEBUG_DIR) -DCMAKE_BUILD_TYPE=Debug -DDIALTONE_SANITIZE=ON -DDIALTONE_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(DEBUG_DIR) -j$(JOBS)
	@cd $(DEBUG_DIR) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure

# The whole test suite against a ThreadSanitizer build. A race reported by the server
# makes it exit non-zero when the tests stop it, which fails the test that ran it.
tsan: deps node-deps
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIALTONE_TSAN=ON -DDIALTONE_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_DIR) -j$(JOBS)
	@cd $(TSAN_DIR) && TSAN_OPTIONS="second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  DIALTONE_SERVER_TSAN_OPTIONS="second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan-server.supp" \
	  ctest --output-on-failure

bench: build
	@./scripts/install-deps.sh --bench
	@./bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(DEBUG_DIR) $(TSAN_DIR)
