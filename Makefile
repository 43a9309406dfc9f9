# detector: `make` builds the CPU version, `make GPU=1 CUDNN=1` the CUDA one,
# `make test` runs every test, `make asan` builds under AddressSanitizer.
#   OPENCV=0   build without OpenCV (image I/O reports a clear error)
#   ONNX=0     build without `detector export` (default: on when libonnx-dev's
#              header and protobuf are found; docs/EXPORT.md)
#   MPI=0      build without Open MPI (default: on when `mpicc` is found;
#              data-parallel training, docs/DISTRIBUTED.md)
#   NCCL=0     a GPU build with MPI without NCCL (default: on when nccl.h and
#              libnccl are found in CUDA_PATH, else in the nvidia-nccl-cu13
#              wheel of a venv under ~/.cache/detector; NCCL_PATH=DIR: DIR/include
#              + DIR/lib64 or DIR/lib; multi-GPU training, docs/DISTRIBUTED.md;
#              EMU=1: the emulator's, over MPI)
#   ASAN=1     AddressSanitizer + UndefinedBehaviorSanitizer
#   DEBUG=1    -O0 -g
#   FUZZ=1     clang + libFuzzer + ASan/UBSan into build-fuzz/ (`make fuzz`
#              builds the harnesses of tests/fuzz, docs/FUZZ.md)
#   CUDA_ARCH  e.g. "80 90" (default: the local GPU's, else 80 90)
#   EMU=1      the GPU build on the CUDA emulator (tests/cuda_emu: CUDA's thread
#              model, the runtime, cuBLAS and cuDNN's convolutions on the CPU),
#              for the GPU parity test without a GPU
EMU ?= 0
ifeq ($(EMU),1)
  GPU := 1
  CUDNN := 1
  CUDA_PATH := tests/cuda_emu
  NVCC := tests/cuda_emu/nvcc
  CUDA_ARCH := emu
  BUILD ?= build-emu
endif
GPU ?= 0
CUDNN ?= 0
OPENCV ?= 1
ASAN ?= 0
DEBUG ?= 0
CUDA_PATH ?= /usr/local/cuda
# -march: AVX-512 where the build machine has it. Override with ARCH=.
ARCH ?= -march=native

CC ?= cc
CXX ?= c++
NVCC ?= $(CUDA_PATH)/bin/nvcc
PKG_CONFIG ?= pkg-config

FUZZ ?= 0
ifeq ($(FUZZ),1)
  CC := clang
  CXX := clang++
  BUILD ?= build-fuzz
else ifeq ($(ASAN),1)
  BUILD ?= build-asan
else ifeq ($(GPU),1)
  BUILD ?= build-gpu
else
  BUILD ?= build
endif

OPT := -O3 $(ARCH)
ifeq ($(DEBUG),1)
  OPT := -O0 -g
endif
ifeq ($(FUZZ),1)
  OPT := -O1
endif
WARN := -Wall -Wextra -Wno-unused-parameter
DEFS := -D_GNU_SOURCE
INCS := -Iinclude -Isrc
# -fPIC: the same objects make libdetector.a and libdetector.so.
CFLAGS += $(OPT) -g $(WARN) -std=gnu11 -fopenmp -fPIC $(DEFS) $(INCS) -MMD -MP
CXXFLAGS += $(OPT) -g $(WARN) -std=c++17 -fopenmp -fPIC $(DEFS) $(INCS) -MMD -MP
LDLIBS := -ldnnl -linih -lcjson -lxml2 -lz -lpthread -lm -fopenmp
ifeq ($(ASAN),1)
  SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
  CFLAGS += $(SAN)
  CXXFLAGS += $(SAN)
  LDFLAGS += $(SAN)
endif
ifeq ($(FUZZ),1)
  # The library with coverage for libFuzzer (fuzzer-no-link: the harness
  # brings main) and the sanitizers; UB aborts instead of printing on.
  # (-Wno-pass-failed: at -O1 under ASan some `omp simd` loops stay scalar.)
  SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
         -fno-omit-frame-pointer -Wno-pass-failed
  CFLAGS += $(SAN)
  CXXFLAGS += $(SAN)
  LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS += $(shell $(PKG_CONFIG) --cflags libxml-2.0 2>/dev/null)

# --- what we found -----------------------------------------------------------
FOUND :=
ifeq ($(OPENCV),1)
  OPENCV_CFLAGS := $(shell $(PKG_CONFIG) --cflags opencv4 2>/dev/null)
  OPENCV_LIBS := $(shell $(PKG_CONFIG) --libs opencv4 2>/dev/null)
  ifeq ($(OPENCV_LIBS),)
    $(error OpenCV 4 not found by pkg-config (install libopencv-dev, or build with OPENCV=0))
  endif
  DEFS += -DDT_OPENCV
  CXXFLAGS += $(OPENCV_CFLAGS)
  # JPEGs are decoded through libjpeg-turbo directly (src/media/image_jpeg.c: its
  # warnings about damaged data are errors), the library OpenCV decodes with.
  LDLIBS += $(OPENCV_LIBS) -ljpeg
  FOUND += opencv=$(shell $(PKG_CONFIG) --modversion opencv4)
else
  FOUND += opencv=off
endif
# ONNX export (src/export): onnx's generated protobuf classes (libonnx-dev).
ONNX ?= $(if $(and $(wildcard /usr/include/onnx/onnx_pb.h),$(shell $(PKG_CONFIG) --libs protobuf 2>/dev/null)),1,0)
ifeq ($(ONNX),1)
  DEFS += -DDT_ONNX -DONNX_ML=1 -DONNX_NAMESPACE=onnx
  LDLIBS += -lonnx_proto $(shell $(PKG_CONFIG) --libs protobuf)
  FOUND += onnx=on
else
  FOUND += onnx=off
endif
# Open MPI (docs/DISTRIBUTED.md): found through mpicc's own flags.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
  MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null)
  ifeq ($(MPI_LIBS),)
    $(error MPI=1 but `mpicc --showme:link` gives nothing (install libopenmpi-dev, or MPI=0))
  endif
  DEFS += -DDT_MPI
  CFLAGS += $(MPI_CFLAGS)
  LDLIBS += $(MPI_LIBS)
  FOUND += mpi=$(shell mpirun --version 2>/dev/null | sed -n 's/.*(Open MPI) \([0-9.]*\).*/\1/p')
else
  FOUND += mpi=off
endif
FOUND += onednn=$(shell grep -h 'define DNNL_VERSION_\(MAJOR\|MINOR\|PATCH\)' /usr/include/oneapi/dnnl/dnnl_version.h 2>/dev/null | awk '{printf "%s%s", sep, $$3; sep="."}')

ifeq ($(GPU),1)
  ifeq ($(wildcard $(NVCC)),)
    $(error GPU=1 but nvcc not found at $(NVCC) (set CUDA_PATH))
  endif
  DEFS += -DDT_GPU
  INCS += -I$(CUDA_PATH)/include
  ifeq ($(EMU),1)
    DEFS += -DDT_CUDA_EMU
    LDLIBS += -lstdc++ # the emulator's runtime is C++ (tests/cuda_emu/emu.cpp)
  else
    LDLIBS += -L$(CUDA_PATH)/lib64 -Wl,-rpath,$(CUDA_PATH)/lib64 -lcudart -lcublas -lcurand
  endif
  # Architectures: explicit CUDA_ARCH, else the local GPU's, else Ampere + Hopper.
  CUDA_ARCH ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
  ifeq ($(strip $(CUDA_ARCH)),)
    CUDA_ARCH := 80 90
  endif
  GENCODE := $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a))
  NVCCFLAGS = -O3 $(GENCODE) -std=c++17 -Xcompiler "-fopenmp -fPIC -Wall -Wextra -Wno-unused-parameter" $(DEFS) $(INCS)
  ifeq ($(EMU),1)
    NVCCFLAGS += $(SAN) # the emulator compiles .cu with g++: sanitizers apply to kernels too
  endif
  FOUND += cuda=$(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') arch="$(CUDA_ARCH)"
  ifeq ($(CUDNN),1)
    DEFS += -DDT_CUDNN
    ifneq ($(EMU),1)
      LDLIBS += -lcudnn
    endif
    FOUND += cudnn=on
  endif
endif
# NCCL (docs/DISTRIBUTED.md, "GPUs"): GPU gradients of a data-parallel run.
# Needs MPI (the ranks and the ncclUniqueId's broadcast); not in the emulator.
NCCL_WHEEL := $(patsubst %/include/nccl.h,%,$(firstword $(wildcard \
    $(HOME)/.cache/detector/*/lib/python3*/site-packages/nvidia/nccl/include/nccl.h)))
NCCL_PATH ?= $(if $(wildcard $(CUDA_PATH)/include/nccl.h),$(CUDA_PATH),$(NCCL_WHEEL))
NCCL_LIB := $(firstword $(wildcard $(NCCL_PATH)/lib64/libnccl.so.2 $(NCCL_PATH)/lib/libnccl.so.2))
NCCL ?= $(if $(and $(filter 1,$(GPU)),$(filter 1,$(MPI)),$(wildcard $(NCCL_PATH)/include/nccl.h),$(or $(filter 1,$(EMU)),$(NCCL_LIB))),1,0)
ifeq ($(EMU)$(NCCL),11)
  # the emulator's NCCL: all-reduces over MPI on its host memory
  # (tests/cuda_emu/include/nccl.h, emu_nccl.c)
  ifneq ($(MPI),1)
    $(error NCCL=1 needs MPI (mpicc found))
  endif
  DEFS += -DDT_NCCL
  FOUND += nccl=emu
else ifeq ($(NCCL),1)
  ifneq ($(GPU)$(MPI),11)
    $(error NCCL=1 needs GPU=1 and MPI (mpicc found))
  endif
  ifeq ($(NCCL_LIB),)
    $(error NCCL=1 but no libnccl.so.2 in $(NCCL_PATH)/lib64 or $(NCCL_PATH)/lib (set NCCL_PATH))
  endif
  DEFS += -DDT_NCCL
  INCS += -I$(NCCL_PATH)/include
  # first: its rpath before CUDA_PATH's, which may hold another libnccl.so.2
  LDLIBS := -L$(dir $(NCCL_LIB)) -Wl,-rpath,$(dir $(NCCL_LIB)) -l:libnccl.so.2 $(LDLIBS)
  FOUND += nccl=$(shell grep -h 'define NCCL_\(MAJOR\|MINOR\|PATCH\) ' $(NCCL_PATH)/include/nccl.h | awk '{printf "%s%s", sep, $$3; sep="."}')
else ifeq ($(GPU),1)
  FOUND += nccl=off
endif

# --- sources -------------------------------------------------------------------
# Every folder of src/ but cuda/ (docs/ARCHITECTURE.md); the program's main
# is src/cli/detector.c, the rest is the library.
SRC_DIRS := base media data detect engine layers train eval dist api cli export
LIB_C := $(filter-out src/cli/detector.c,$(foreach d,$(SRC_DIRS),$(wildcard src/$(d)/*.c)))
ifneq ($(NCCL),1)
  LIB_C := $(filter-out src/dist/nccl.c,$(LIB_C))
endif
ifeq ($(EMU)$(NCCL),11)
  LIB_C += tests/cuda_emu/emu_nccl.c
endif
ifeq ($(OPENCV),1)
  LIB_CXX := $(foreach d,$(filter-out export,$(SRC_DIRS)),$(wildcard src/$(d)/*.cpp))
endif
ifeq ($(ONNX),1)
  LIB_CXX += src/export/onnx_proto.cpp
endif
ifeq ($(GPU),1)
  LIB_CU := $(foreach d,$(SRC_DIRS) cuda,$(wildcard src/$(d)/*.cu))
  LIB_C += $(wildcard src/cuda/*.c)
  ifeq ($(EMU),1)
    LIB_CXX += tests/cuda_emu/emu.cpp tests/cuda_emu/emu_cudnn.cpp
  endif
endif
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cpp=$(BUILD)/%.o) $(LIB_CU:%.cu=$(BUILD)/%.cu.o)
LIB := $(BUILD)/libdetector.a
# The shared library (docs/API.md): soname libdetector.so.$(SO_MAJOR); only
# the functions of include/detector.h are exported (src/api/detector.map).
SO_MAJOR := 0
SO_VERSION := $(SO_MAJOR).1.0
SO := $(BUILD)/libdetector.so.$(SO_VERSION)
SO_LINKS := $(BUILD)/libdetector.so.$(SO_MAJOR) $(BUILD)/libdetector.so
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
ifeq ($(EMU),1) # the emulator's compiler and device header make the .cu objects too
$(LIB_CU:%.cu=$(BUILD)/%.cu.o): tests/cuda_emu/nvcc tests/cuda_emu/include/emu_dev.h
endif

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_LIBS := -lcmocka

BIN := detector
ifneq ($(BUILD),build)
  BIN := $(BUILD)/detector
endif

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all test asan clean info bench tests fuzz install
all: info $(BIN) $(SO_LINKS)

info:
	@echo "detector build: $(BUILD) GPU=$(GPU) CUDNN=$(CUDNN) OPENCV=$(OPENCV) ASAN=$(ASAN) | found: $(FOUND)"

# The compile flags of this build folder: objects made with other flags
# (e.g. before -fPIC, or another ARCH) are rebuilt instead of linked.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(CFLAGS) $(CXX) $(CXXFLAGS) $(DEFS) $(NVCCFLAGS)
ifneq ($(FLAGS_NOW),$(shell cat $(FLAGS_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP))
endif

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEFS) -c $< -o $@

$(BUILD)/%.o: %.cpp $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(DEFS) -c $< -o $@

# .cu objects are named x.cu.o so that x.c and x.cu can sit side by side;
# -MMD -MP (nvcc 11+) writes x.cu.d, so a changed header rebuilds them too.
$(BUILD)/%.cu.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The library without the command line's folder (src/cli) and the ONNX export
# (src/export: the CLI's alone, docs/EXPORT.md).
SO_OBJ := $(filter-out $(BUILD)/src/cli/% $(BUILD)/src/export/%,$(LIB_OBJ))
$(SO): $(SO_OBJ) src/api/detector.map
	$(CXX) -shared -Wl,-soname,libdetector.so.$(SO_MAJOR) -Wl,--version-script=src/api/detector.map \
	    -Wl,--no-undefined $(LDFLAGS) $(SO_OBJ) -o $@ $(LDLIBS)

$(SO_LINKS): $(SO)
	ln -sf $(notdir $(SO)) $@

# make install PREFIX=/some/dir (DESTDIR= for staging): the header, the
# shared library with its links, the static one and detector.pc.
install: all
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/detector.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/libdetector.so.$(SO_MAJOR)
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/libdetector.so
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	    'Name: detector' 'Description: single-shot object detection (SSD) in C' \
	    'Version: $(SO_VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -ldetector' \
	    'Libs.private: $(strip $(LDLIBS)) -lstdc++' >$(DESTDIR)$(LIBDIR)/pkgconfig/detector.pc

$(BIN): $(BUILD)/src/cli/detector.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEFS) -Itests $< tests/testutil.c $(LIB) -o $@ $(LDFLAGS) $(TEST_LIBS) $(LDLIBS) -lstdc++

tests: $(TEST_BIN) $(BIN)

# libFuzzer harnesses (tests/fuzz, docs/FUZZ.md): `make fuzz` builds them
# into build-fuzz/fuzz/; tests/fuzz/run.sh runs them.
ifeq ($(FUZZ),1)
fuzz: info $(FUZZ_BIN)
.PRECIOUS: $(BUILD)/tests/fuzz/%.o
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/util.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) -fsanitize=fuzzer $(LDFLAGS) $^ -o $@ $(LDLIBS)
else
fuzz:
	$(MAKE) FUZZ=1 fuzz
endif

# Every test: C unit tests (cmocka), PyTorch parity, CLI checks. Prints
# "N passed, N failed" last and exits non-zero on any failure.
test: info tests
	@BUILD=$(BUILD) BIN=$(if $(findstring /,$(BIN)),$(BIN),./$(BIN)) SANITIZED=$(ASAN) sh tests/run_all.sh

asan:
	$(MAKE) ASAN=1 test

bench: all
	sh scripts/bench_cpu.sh

clean:
	rm -rf build build-asan build-gpu build-emu build-emu-asan build-fuzz detector

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
