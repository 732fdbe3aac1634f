#!/usr/bin/env bash
# README command (2), and what CI runs (.ci/run): installs missing packages, then builds and
# tests tgk in four configurations, each in its own build directory:
#   build/gcc    GCC 12, Release, warnings as errors: everything, every test.
#   build/clang  Clang 14 with libomp, Release, warnings as errors: everything, every test.
#   build/asan   GCC 12, -O1, AddressSanitizer + UndefinedBehaviorSanitizer: every test but
#                two. The exhaustive exp sweep (all 2^32 inputs: pure register arithmetic, with
#                nothing for the sanitizers that the sampled exp tests do not reach, and about
#                2 minutes under them). And `tgk bench` at the default shapes (ToolRunTest.Bench:
#                4 minutes under them, most of it the scalar oracles of full-size shapes; the
#                same commands run at small shapes in the other tool tests, and in full in
#                build/gcc and build/clang). Not Clang: its UBSan takes minutes over some kernel
#                TUs, and LeakSanitizer reports libomp's own thread bookkeeping as leaks.
#   build/tsan   Clang 14, -O1, ThreadSanitizer with libomp's archer tool (which tells TSan
#                about OpenMP's synchronization): the tests about threads, those of the
#                runtime and of the race checker, so only the core and kkt are built.
#   build/python-venv  the Python package (.ci/python.sh): pip install . and its pytest tests,
#                the CLI parity test against build/gcc's tool.
# Prints each ctest summary; exits non-zero if any step failed. Reruns reuse the build trees.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source .ci/lib.sh
tgk_install_dependencies || exit 1

start=$SECONDS
failed=()
sanitizer_flags=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DTGK_BUILD_PERF=OFF)

tgk_build build/gcc -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Release -DTGK_WERROR=ON &&
  tgk_test build/gcc || failed+=(gcc)

tgk_build build/clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release -DTGK_WERROR=ON &&
  tgk_test build/clang || failed+=(clang)

tgk_build build/asan -DCMAKE_CXX_COMPILER=g++ "${sanitizer_flags[@]}" \
  -DTGK_SANITIZE=address,undefined &&
  UBSAN_OPTIONS=print_stacktrace=1 tgk_test build/asan -E 'ExpIsAccurateForEveryInput|^ToolRunTest\.Bench$' ||
  failed+=(asan)

archer=/usr/lib/llvm-14/lib/libarcher.so
tgk_build build/tsan -DCMAKE_CXX_COMPILER=clang++ "${sanitizer_flags[@]}" -DTGK_SANITIZE=thread \
  -DTGK_ONLY_FAMILIES=kkt -- runtime_test race_check_test &&
  OMP_TOOL_LIBRARIES=$archer TSAN_OPTIONS="ignore_noninstrumented_modules=1" \
    tgk_test build/tsan -R 'Runtime|RaceCheck' || failed+=(tsan)

# The safetensors, .npy and .npz readers under libFuzzer with ASan and UBSan, 60 s (.ci/fuzz.sh).
.ci/fuzz.sh || failed+=(fuzz)

bash .ci/python.sh || failed+=(python)

echo "== total: $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "== FAILED: ${failed[*]}"
  exit 1
fi
echo "== all passed"
