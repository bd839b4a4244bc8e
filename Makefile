# hipid Makefile. Toggles:
#   SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer build in build/san
#   COVERAGE=1  gcov line-coverage build in build/cov (`make coverage` uses it)
#   WERROR=1    warnings are errors (CI sets it)
#   FUZZ_S=N    seconds per harness for `make fuzz` (default 60); FUZZ_RUNS=N
#               instead runs exactly N inputs each, repeatably (what CI does)
#   PROFILE=1   `make bench` prints per-layer profiles instead (bench/run.sh)
#   ARCH=...    code generation flags (default -march=native; set ARCH= for a
#               portable binary when login and compute nodes differ)
CC       := mpicc
CXX      := g++
PKGS     := openblas hdf5 vips inih gsl libprotobuf-c
# DCMTK's dcmtk.pc names libsndfile, which Debian's libdcmtk-dev does not pull
# in, so its libraries are listed here: image modules and their codecs
DCMTK_LIBS := -ldcmjpls -ldcmjpeg -ldcmimage -ldcmimgle -ldcmdata -loflog -lofstd
# ONNX's message definitions, from Debian's python3-onnx; protoc-c turns them
# into build/gen/onnx.pb-c.{c,h} (src/nn/onnx.c is their only user)
ONNX_PROTO ?= /usr/lib/python3/dist-packages/onnx/onnx.proto
ARCH     ?= -march=native
SANITIZE ?= 0
COVERAGE ?= 0
WERROR   ?= 0
PROFILE  ?= 0

BUILD := build
BIN   := bin
OPT   := -O3 $(ARCH)
ifeq ($(SANITIZE),1)
  BUILD := build/san
  BIN   := build/san/bin
  # -O2, not -O1: the sanitized suite is most of CI's time, and -O2 cut a
  # sweep-and-report test from 122 to 87 s (measured) with the same checks
  OPT   := -O2 -g $(ARCH) -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
endif
ifeq ($(COVERAGE),1)
  BUILD := build/cov
  BIN   := build/cov/bin
  OPT   := -O1 -g $(ARCH) --coverage
endif

CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -fopenmp -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-psabi \
           -Iinclude $(shell pkg-config --cflags $(PKGS))
# the one C++ file per library that has no C interface (DICOM), behind a C header
CXXFLAGS := -std=c++17 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude
ifeq ($(WERROR),1)
  CFLAGS += -Werror
  CXXFLAGS += -Werror
endif
LDFLAGS := $(filter -fsanitize% --coverage -fopenmp,$(OPT) -fopenmp)
# GSL's own CBLAS is left out: OpenBLAS provides those symbols, once
LDLIBS  := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS))) $(DCMTK_LIBS) -lstdc++ -lm

# One folder per layer (README "Layout"); each lists its sources itself.
LAYERS   := base nn data train sweep report cmd
SRC      := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
SRCXX    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.cc))
GEN_OBJ  := $(BUILD)/gen/onnx.pb-c.o
LIB_OBJ  := $(patsubst src/%.c,$(BUILD)/%.o,$(filter-out src/cmd/main.c,$(SRC))) \
            $(patsubst src/%.cc,$(BUILD)/%.o,$(SRCXX)) $(GEN_OBJ)
# tests/test_*.c run on their own; tests/check_*.c are helpers that test
# scripts call with fixtures (e.g. the PyTorch cross-check)
TEST_SRC := $(wildcard tests/test_*.c tests/check_*.c)
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH    := $(BUILD)/bench/bench_train

.PHONY: all test coverage coverage-run test-slurm test-multinode bench demo pretrain-shoulder shoulder shoulder128 shoulder128-ensemble shoulder128-bagged shoulder-bagged clean fuzz fuzz-build
all: $(BIN)/hipid

$(BIN)/hipid: $(BUILD)/cmd/main.o $(LIB_OBJ) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Kernels may fuse multiply-adds (ISO C mode forbids it by default); the rest
# of the code keeps exact IEEE evaluation, e.g. split.c's tie-breaks that must
# match scikit-learn's.
$(BUILD)/nn/ops.o: CFLAGS += -ffp-contract=fast
# The copy search at -O2 in every build: -O3 made its verification 3x slower
# (1.89 vs 0.55 ms per pair, measured), and -O1 under the sanitizers made every
# prep of the real films take minutes. Without -ffast-math the results are the
# same at any level.
$(BUILD)/data/dupdesc.o: CFLAGS += -O2

# -MMD -MP: each object depends on the headers it includes (build/**/*.d), so a
# header edit rebuilds only its users.
DEPFLAGS = -MMD -MP

$(BUILD)/%.o: src/%.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/%.o: src/%.cc Makefile
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

# generated code is compiled without the project's warning flags (not ours to fix)
$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(@D)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(ONNX_PROTO)
$(GEN_OBJ): $(BUILD)/gen/onnx.pb-c.c
	$(CC) -std=c11 $(OPT) -I$(BUILD)/gen $(shell pkg-config --cflags libprotobuf-c) -c -o $@ $<
$(BUILD)/nn/onnx.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/nn/onnx.o: $(BUILD)/gen/onnx.pb-c.h

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# The fuzz harnesses (tests/fuzz/fuzz_*.c) linked with a plain main that
# runs files through them: tests/test_fuzz_regress.sh runs the seeds and the
# regression inputs with these, in this build's flags (gcc, or the sanitizers).
FUZZERS      := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REGRESS := $(patsubst %,$(BUILD)/tests/fuzz/%,$(FUZZERS))
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/main.c tests/fuzz/fuzz.h $(LIB_OBJ) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/fuzz $(LDFLAGS) -o $@ $< tests/fuzz/main.c $(LIB_OBJ) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BIN):
	mkdir -p $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Every test program and script; fails if any fails.
test: $(BIN)/hipid $(TESTS) $(FUZZ_REGRESS)
	HIPID=$(BIN)/hipid TEST_BIN=$(BUILD)/tests SANITIZE=$(SANITIZE) tests/run.sh

# Line coverage of src/ and include/, per test (scripts/coverage.py): every
# test, run from a gcov build, writes its counts under build/cov/runs/<test>;
# with SANITIZE=1, so that tests that shrink under the sanitizers (test_halving,
# test_audit, test_bounds, ...) run the lines they run in that pass.
# With SAN_LOG=LOG, the output of a sanitized run (make test SANITIZE=1), it
# also rewrites tests/sanitize-skip.txt: the tests whose lines all run in
# other tests, which the sanitized pass leaves out.
coverage:
	$(MAKE) COVERAGE=1 coverage-run

coverage-run: $(BIN)/hipid $(TESTS) $(FUZZ_REGRESS)
	rm -rf $(BUILD)/runs
	HIPID=$(BIN)/hipid TEST_BIN=$(BUILD)/tests SANITIZE=1 HIPID_COVERAGE_DIR=$(CURDIR)/$(BUILD)/runs tests/run.sh
	scripts/coverage.py $(BUILD)/runs $(if $(SAN_LOG),--times $(SAN_LOG) --write tests/sanitize-skip.txt)

# The slurm/ scripts on a throwaway single-node Slurm cluster with the real
# binary (root; scripts/install-slurm-deps.sh first). Not part of `test`.
test-slurm: $(BIN)/hipid
	HIPID=$(BIN)/hipid HIPID_TEST_JOB=tests/slurm/tiny.ini HIPID_TEST_CMP="/usr/bin/python3 tests/h5same.py" tests/slurm/test_slurm.sh

# Sweeps across three "hosts" made of Linux network namespaces on this
# machine (root; iproute2): placement, a killed rank, a cut link, a frozen
# rank, the master's host lost. Not part of `test`.
test-multinode: $(BIN)/hipid
	HIPID=$(BIN)/hipid tests/multinode/test_multinode.sh

# libFuzzer: the harnesses and the library layers they reach (not cmd,
# report or ONNX) compiled by clang with coverage, ASan and UBSan into
# build/fuzz/; `make fuzz FUZZ_S=N` runs each N seconds (tests/fuzz/run.sh).
FUZZ_S     ?= 60
FUZZ_DIR   := build/fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS := -D_GNU_SOURCE -O1 -g $(ARCH) -fno-omit-frame-pointer -fopenmp -Wno-psabi -Wno-pass-failed -Iinclude \
              $(shell pkg-config --cflags $(PKGS) ompi-c)
FUZZ_SRC   := $(filter-out src/cmd/% src/report/% src/nn/onnx.c,$(SRC))
FUZZ_OBJ   := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRC)) \
              $(patsubst src/%.cc,$(FUZZ_DIR)/obj/%.o,$(SRCXX))
FUZZ_BINS  := $(patsubst %,$(FUZZ_DIR)/%,$(FUZZERS))
$(FUZZ_DIR)/obj/%.o: src/%.c Makefile
	@mkdir -p $(@D)
	clang -std=c11 $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -MMD -MP -c -o $@ $<
$(FUZZ_DIR)/obj/%.o: src/%.cc Makefile
	@mkdir -p $(@D)
	clang++ -std=c++17 $(FUZZ_FLAGS) $(FUZZ_SAN) -fno-sanitize=vptr -MMD -MP -c -o $@ $<
$(FUZZ_DIR)/libhipid.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_DIR)/libhipid.a
	clang -std=c11 $(FUZZ_FLAGS) -Itests/fuzz -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_DIR)/libhipid.a \
	    $(LDLIBS) $(shell pkg-config --libs ompi-c)
-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_S) $(FUZZERS)

bench: $(BIN)/hipid $(BENCH)
	HIPID=$(BIN)/hipid BENCH_BIN=$(BENCH) PROFILE=$(PROFILE) bench/run.sh

# Train both presets on a small built-in data set and print their accuracies.
demo: $(BIN)/hipid
	scripts/demo.sh $(BIN)/hipid

pretrain-shoulder: $(BIN)/hipid
	scripts/pretrain-shoulder.sh $(BIN)/hipid

# The real shoulder films: pretraining, jobs/shoulder.ini and its report.
shoulder: $(BIN)/hipid
	scripts/shoulder.sh $(BIN)/hipid

# The best model measured on them: pretraining and fine-tuning at 128 px.
shoulder128: $(BIN)/hipid
	PRETRAIN_SIZE=128 scripts/shoulder.sh $(BIN)/hipid jobs/shoulder128.ini

# Six recipes of it and their ensemble; the crop and grey families' checkpoints
# are pretrained on phantoms prepared as their films are.
shoulder128-ensemble: $(BIN)/hipid
	PRETRAIN_SIZE=128 PRETRAIN_STEPS=background,otsu,largest,invert,crop scripts/pretrain-shoulder.sh $(BIN)/hipid
	PRETRAIN_SIZE=128 PRETRAIN_STEPS=none scripts/pretrain-shoulder.sh $(BIN)/hipid
	PRETRAIN_SIZE=128 scripts/shoulder.sh $(BIN)/hipid jobs/shoulder128-ensemble.ini

# Subagging against seeds: at 64 px (jobs/shoulder-bagged.ini) and at 128 px
# (jobs/shoulder128-bagged.ini; not yet run).
shoulder-bagged: $(BIN)/hipid
	scripts/shoulder.sh $(BIN)/hipid jobs/shoulder-bagged.ini

shoulder128-bagged: $(BIN)/hipid
	PRETRAIN_SIZE=128 scripts/shoulder.sh $(BIN)/hipid jobs/shoulder128-bagged.ini

clean:
	rm -rf build bin
