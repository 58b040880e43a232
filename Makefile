# kelp's entry points. `make demo` and `make test` are the two commands a new machine needs:
# both install their own dependencies first (scripts/setup, idempotent).
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
# Let ccache share results between checkouts of the repository (CI builds a fresh clone).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all setup configure build test test-asan bench fuzz demo format clean

all: build

setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja

configure: $(BUILD_DIR)/build.ninja

build: setup configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: setup
	cmake -S . -B $(ASAN_DIR) -G Ninja -DKELP_SANITIZE=ON -DKELP_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

# Every benchmark under bench/, each printing its figures and its ratio to a baseline.
bench: build
	scripts/bench $(BUILD_DIR)

# libFuzzer binaries (clang); run one with e.g. build-fuzz/src/bgp/bgp_codec_fuzz -max_total_time=60
fuzz:
	@scripts/setup --fuzz
	CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DKELP_FUZZ=ON -DKELP_BUILD_BENCH=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS)

demo: build
	scripts/demo $(BUILD_DIR)

format:
	find src bench tests tools -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
