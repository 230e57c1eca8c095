# Glassbox: `make run` and `make test` are the only commands a new user needs.
SHELL := /bin/bash
SWIFT ?= swift
DATA_DIR ?= data/mnist
RUN_DIR ?= runs/default
EPOCHS ?= 3
SEED ?= 1
WORKERS ?= 2
PREFIX ?= /usr/local
DEB_PACKAGES := pkg-config libopenblas-dev libzmq3-dev libpng-dev zlib1g-dev libcairo2-dev libgif-dev \
                fonts-dejavu-core dataset-fashion-mnist python3 python3-venv time
# Only the tests need these: headless Chromium (the report), systemd-analyze (the units), a single-node
# Slurm cluster (the sbatch script), ip netns (emulated hosts).
DEB_TEST_PACKAGES := chromium systemd slurm-wlm munge iproute2 prometheus

# AVX2 + FMA code paths need the compiler told the CPU (haswell also has SSE 4.2, whose crc32 instruction
# checks the wire messages); only where the CPU has all three.
CPU_FLAGS := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && grep -qw sse4_2 /proc/cpuinfo 2>/dev/null && echo "-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DGLASSBOX_SSE42")
RELEASE := $(SWIFT) build -c release $(CPU_FLAGS)
BIN = $(shell $(RELEASE) --show-bin-path)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The release tarball: both programs with the Swift runtime linked in (no toolchain needed to run them).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
DIST_NAME := glassbox-$(VERSION)-linux-x86_64
DIST_TARBALL := dist/$(DIST_NAME).tar.gz

.PHONY: all deps test-deps install-packages data build run test bench hostile chaos load crash install dist clean help
all: build

help:
	@echo "make run    - install missing packages, fetch MNIST, build release, train + draw (runs/default)"
	@echo "make test   - install missing packages, fetch MNIST, run the whole test suite"
	@echo "make dist   - $(DIST_TARBALL): both programs, static Swift runtime, deploy files"
	@echo "make install PREFIX=/usr/local - copy glassbox-coordinator and glassbox-worker into PREFIX/bin"
	@echo "make bench  - speed and memory side by side with Keras and PyTorch (see BENCHMARKS.md), and"
	@echo "              distributed step time over emulated 1 Gbit/s, 0.5 ms links (root; docs/DISTRIBUTED.md)"
	@echo "make chaos  - 5 runs of 3 workers killed, stopped and restarted at random; weights must not change"
	@echo "make load   - 32 workers on one coordinator, then 100 joining and leaving; weights must not change"
	@echo "make crash  - kill the coordinator at >= 10 random moments, resume each, compare with an undisturbed run"
	@echo "make fuzz   - every libFuzzer target for FUZZ_SECONDS=$(FUZZ_SECONDS) s (fuzz-smoke: 10 s each, in make test)"
	@echo "make sanitize - unit and threaded tests, then a real distributed run, under ASan and under TSan; the integration tests under ASan"
	@echo "make hostile - hostile peers against a real 2-worker run (RELIABILITY.md)"
	@echo "variables: EPOCHS=$(EPOCHS) SEED=$(SEED) WORKERS=$(WORKERS) RUN_DIR=$(RUN_DIR)"

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

test-deps: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_TEST_PACKAGES)"

# Installs those of $(PACKAGES) that dpkg does not list as installed (one apt-get call, none if all are there).
install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

data: deps
	@python3 scripts/fetch_mnist.py $(DATA_DIR) data-checksums/MNIST-SHA256

build: deps
	$(RELEASE)

run: build data
	$(BIN)/glassbox-coordinator train --data $(DATA_DIR) --epochs $(EPOCHS) --seed $(SEED) --out $(RUN_DIR) \
	  --spawn-workers $(WORKERS)

# Tests run on a release build (with -enable-testing for @testable): the numerical and multi-process
# tests need real speed. The tests that read run files with Python (TensorBoard's reader, the README's
# snippet) make .venv-python from PyPI on first use.
TEST_BUILD := $(SWIFT) build -c release --build-tests -Xswiftc -enable-testing $(CPU_FLAGS)
test: test-deps data dist
	$(TEST_BUILD)
	GLASSBOX_DATA=$(CURDIR)/$(DATA_DIR) GLASSBOX_DIST=$(CURDIR)/$(DIST_TARBALL) $(SWIFT) test -c release --skip-build
	@$(MAKE) --no-print-directory fuzz-smoke

# Hostile peers against a 2-worker run on loopback: the table of RELIABILITY.md (release tests, a few minutes).
hostile: deps data
	bash scripts/hostile.sh $(DATA_DIR)

bench: build data
	bash scripts/bench.sh $(BIN) $(DATA_DIR)
	bash scripts/multiprocess_bench.sh $(BIN) $(DATA_DIR) 3
	bash scripts/dist_bench.sh $(BIN) $(DATA_DIR)
	bash scripts/umap_compare.sh $(BIN) $(DATA_DIR)
	bash scripts/umap_workers_bench.sh $(BIN) $(DATA_DIR)
	@# network namespaces need root; about 2 minutes (docs/DISTRIBUTED.md, Measurements)
	@if [ "$$(id -u)" = 0 ] || sudo -n true 2> /dev/null; then $(SUDO) bash scripts/dist_netns.sh $(BIN) $(DATA_DIR); \
	else echo "make bench: skipped scripts/dist_netns.sh (needs root: sudo scripts/dist_netns.sh $(BIN) $(DATA_DIR))"; fi

# Faults and load (RELIABILITY.md): each prints a table and fails if any run's weights differ.
CHAOS_RUNS ?= 5
chaos: build data
	bash scripts/chaos.sh $(BIN) $(DATA_DIR) $(CHAOS_RUNS) 3

load: build data
	bash scripts/load.sh $(BIN) $(DATA_DIR) 32 100

# Not part of `make test`: a dozen full short runs, each killed once and resumed (RELIABILITY.md).
crash: build data
	bash scripts/crash_resume.sh $(BIN) $(DATA_DIR)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/glassbox-coordinator $(BIN)/glassbox-worker $(DESTDIR)$(PREFIX)/bin/
	@echo "installed glassbox-coordinator and glassbox-worker in $(DESTDIR)$(PREFIX)/bin"

# Runtime needs on the target: the Debian packages in deploy/README.md. A separate scratch path, so that
# the static link does not replace the test build's products.
dist: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-dist $(CPU_FLAGS)
	rm -rf dist/$(DIST_NAME) && mkdir -p dist/$(DIST_NAME)/bin
	cp .build-dist/release/glassbox-coordinator .build-dist/release/glassbox-worker dist/$(DIST_NAME)/bin/
	cp -r deploy dist/$(DIST_NAME)/deploy
	cp deploy/README.md dist/$(DIST_NAME)/README-deploy.md
	cp data-checksums/MNIST-SHA256 dist/$(DIST_NAME)/
	echo "$(VERSION)" > dist/$(DIST_NAME)/VERSION
	tar -C dist -czf $(DIST_TARBALL) $(DIST_NAME)
	@echo "wrote $(DIST_TARBALL) ($$(du -h $(DIST_TARBALL) | cut -f1))"

# Fuzzing (Fuzz/, a package of its own so that `swift build` never builds it): each libFuzzer target for
# FUZZ_SECONDS; prints executions, exec/s, crashes and corpus size per target (RELIABILITY.md).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := fuzz-wire fuzz-idx fuzz-safetensors fuzz-npy fuzz-umap-model fuzz-checkpoint
# The swift driver keeps only the last -sanitize= it is given, so SwiftPM's two --sanitize flags would
# leave the code without coverage counters: -Xswiftc passes both in one flag, after them.
# --disable-dead-strip: the linker's --gc-sections would drop the counters' sections.
# $(call fuzz_build,CONFIG,SCRATCH): the fuzz targets built in CONFIG (release or debug) into SCRATCH.
fuzz_build = cd Fuzz && $(SWIFT) build -c $(1) --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
             --disable-dead-strip --scratch-path ../$(2) $(CPU_FLAGS)
FUZZ_BUILD := $(call fuzz_build,release,.build-fuzz)
.PHONY: fuzz fuzz-smoke fuzz-build sanitize sanitize-address sanitize-thread sanitize-address-cluster sanitize-thread-cluster sanitize-address-integration
fuzz-build: deps
	$(FUZZ_BUILD)

fuzz: fuzz-build data
	bash scripts/fuzz.sh .build-fuzz/release .build-fuzz/work $(DATA_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The smoke that `make test` runs: a debug build of the same targets (about 40 s to build where a release
# fuzz build takes about 10 min; fewer executions per second, which 10 s per target can spare), each target
# run for 10 s from a fresh corpus and its seeds.
FUZZ_SMOKE_BUILD := $(call fuzz_build,debug,.build-fuzz-debug)
fuzz-smoke: deps data
	$(FUZZ_SMOKE_BUILD)
	rm -rf .build-fuzz-debug/smoke
	bash scripts/fuzz.sh .build-fuzz-debug/debug .build-fuzz-debug/smoke $(DATA_DIR) 10 $(FUZZ_TARGETS)

# Under AddressSanitizer, then ThreadSanitizer (debug builds in .build-asan and .build-tsan): the protocol,
# cluster and option tests, the file readers, and the tests that run threads (the parallel-for, the UMAP
# layout on several threads, the trainer's step gradient on several threads, every kernel path (the C kernels
# included) and Adam against their references, ZeroMQ sockets and the ZAP
# thread). Left out there: the tests that train or map thousands of MNIST images (hours in a sanitized
# debug build on 2 shared cores; SANITIZE_TESTS=... adds them) and the integration tests, which skip
# themselves in debug builds; real processes run under each sanitizer in sanitize-*-cluster instead.
SANITIZE_DATA := IDXTests|NPYTests|SafetensorsTests|FileBytesTests|InMemoryReaderTests|TensorBytesTests|SHA256Tests
SANITIZE_THREADS := SupportTests|UMAPStagesTests|UMAPFuzzRegressionTests|CNNEngineTests/testStepGradientIsBitIdenticalForAnyThreadCount|KernelPathTests|AdamTests|SharedUpdateTests
SANITIZE_TESTS ?= ProtocolTests\.|CommandLineOptionsTests\.|ClusterTests\.|CoreTests\.($(SANITIZE_DATA)|$(SANITIZE_THREADS))
sanitize: sanitize-address sanitize-thread sanitize-address-cluster sanitize-thread-cluster sanitize-address-integration

# The integration tests under AddressSanitizer: a release build of the tests and of both programs with ASan
# (.build-asan-tests), so every coordinator and worker the tests start is sanitized too and inherits
# ASAN_OPTIONS (halt_on_error: a report ends the process, and the test with it).
SANITIZE_INTEGRATION ?= IntegrationTests\.(DistributedTrainingTests|ResumeTests|HostilePeersTests|DiskFaultTests|WorkerProtocolTests|ChaosTests|EpochOutputsTests)
sanitize-address-integration: deps data
	SANITIZE_CONFIG=release bash scripts/sanitize.sh address .build-asan-tests $(CURDIR)/$(DATA_DIR) '$(SANITIZE_INTEGRATION)' $(CPU_FLAGS)

# Real processes under each sanitizer (release builds in .build-asan-release, .build-tsan-release): a
# coordinator, 2 spawned workers and a map on 1,000 images, its metrics server scraped while it runs
# (scripts/sanitize_cluster.sh).
sanitize-address-cluster: deps data
	bash scripts/sanitize_cluster.sh address .build-asan-release $(CURDIR)/$(DATA_DIR) $(CPU_FLAGS)

sanitize-thread-cluster: deps data
	bash scripts/sanitize_cluster.sh thread .build-tsan-release $(CURDIR)/$(DATA_DIR) $(CPU_FLAGS)

sanitize-address: deps data
	bash scripts/sanitize.sh address .build-asan $(CURDIR)/$(DATA_DIR) '$(SANITIZE_TESTS)' $(CPU_FLAGS)

sanitize-thread: deps data
	bash scripts/sanitize.sh thread .build-tsan $(CURDIR)/$(DATA_DIR) '$(SANITIZE_TESTS)' $(CPU_FLAGS)

clean:
	rm -rf .build .build-dist dist .build-fuzz .build-fuzz-debug .build-asan .build-tsan .build-asan-release .build-tsan-release .build-asan-tests
