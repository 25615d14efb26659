# The two commands of the README. Both create the environment first (.venv), from scratch if needed.
#   make demo  - make the sample clip and run the default graph on it
#   make test  - run the test suite (the CUDA tests on the host emulator)
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
# torch's CPU build: on the project's machines `torch==2.13.0` resolves to a local CPU wheel;
# elsewhere pass e.g. TORCH="torch --index-url https://download.pytorch.org/whl/cpu".
TORCH   ?= torch==2.13.0
# The pose extra's model runtime, without its declared dependencies (see setup.py, extras "pose").
MEDIAPIPE ?= mediapipe==0.10.14

.PHONY: demo test env clean gpu-wheels

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test,pose,ray]'
	$(PY) -m pip install -q --no-deps $(MEDIAPIPE)
	touch $@

env: $(VENV)/.installed

demo: env
	$(PY) samples/make_sample.py samples/sample.mp4
	mkdir -p out
	$(VENV)/bin/vproc run graphs/default.yaml -i samples/sample.mp4 -o out/sample_default.mp4 -y
	@echo "output: $(CURDIR)/out/sample_default.mp4"

# VPROC_CUDA_EMULATE=1: the cuda-marked tests run here too, their kernels compiled for the host
# (tests/cuda_emu); on a machine with a GPU, `VPROC_REQUIRE_CUDA=1 pytest -m cuda` runs them for real.
test: env
	VPROC_CUDA_EMULATE=1 $(PY) -m pytest -q tests

# What benchmarks/gpu_check.sh needs on the device machine beyond its own packages (Python 3.12).
gpu-wheels: env
	grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	    -d .whl "av==$$($(PY) -c 'import av; print(av.__version__)')" ffmpeg-python==0.2.0 future

clean:
	rm -rf $(VENV) out samples/sample.mp4
