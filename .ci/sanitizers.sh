#!/usr/bin/env bash
# Sanitizer runs: the C++ runtime tests under ThreadSanitizer and AddressSanitizer, then
# a pytest subset (the runtime, threads, error reach, hostile inputs, fuzz and lag tests)
# against an AddressSanitizer build of the extension. CPU only (-O1, no CUDA): a few
# minutes on 2 cores. Run from the repository root; needs cmake, ninja, doctest and
# nanobind (installed here if missing). README.md, "Sanitizer builds", says more.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import nanobind" 2>/dev/null || python -m pip install -q nanobind
common=(-G Ninja -DFASTSYNC_BUILD_TESTS=ON -DFASTSYNC_NATIVE=OFF -DFASTSYNC_CUDA=OFF
        -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
        "-DPython_EXECUTABLE=$(command -v python)")
jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

echo "== ThreadSanitizer: C++ runtime tests"
cmake -S . -B build/tsan "${common[@]}" -DFASTSYNC_SANITIZE=thread > /dev/null
cmake --build build/tsan -j "$jobs" --target fastsync_tests
TSAN_OPTIONS="suppressions=$PWD/tests/cpp/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
  build/tsan/fastsync_tests

echo "== AddressSanitizer: C++ runtime tests, then the extension under pytest"
cmake -S . -B build/asan "${common[@]}" -DFASTSYNC_SANITIZE=address -DFASTSYNC_BUILD_PYTHON=ON \
  > /dev/null
cmake --build build/asan -j "$jobs" --target fastsync_tests _core
ASAN_OPTIONS=detect_leaks=1 build/asan/fastsync_tests
pkg=build/asan/pkg
rm -rf "$pkg" && mkdir -p "$pkg" && cp -r python/fastsync "$pkg/" && cp build/asan/_core*.so "$pkg/fastsync/"
# An editable install's import hook would still pick the regular build: drop it.
cat > "$pkg/sitecustomize.py" <<'PY'
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable")]
PY
# The runtime goes first; libstdc++ too, or ASan's exception interceptor finds no
# __cxa_throw in python (which does not link it). CPython's own allocations look like
# leaks to LeakSanitizer: leaks are checked in the C++ run above, memory errors
# (overflows, use after free) here. Requests past the machine must return null (the
# allocator then raises MemoryError) rather than abort. The soak test's RSS bound does
# not hold with ASan's quarantine of freed memory.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export PYTHONPATH="$PWD/$pkg"
python - <<'PY'
import fastsync, sys
sys.exit(0 if "/build/asan/pkg/" in fastsync.__file__ else f"not the ASan build: {fastsync.__file__}")
PY
python -m pytest -q -p no:cacheprovider \
  tests/test_runtime.py tests/test_error_reach.py tests/test_hostile_inputs.py tests/test_fuzz.py \
  tests/test_indexing.py tests/test_compile_replay.py tests/test_lag.py \
  --deselect tests/test_runtime.py::test_soak_of_dropped_async_evals_ends_where_it_started
