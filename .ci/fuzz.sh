#!/usr/bin/env bash
# Fuzzes the tool's readers of safetensors, .npy and .npz files (fuzz/tensor_file_fuzzer.cc: one
# target, every input read by each) with libFuzzer under ASan and UBSan for FUZZ_SECONDS
# (default 60), seeded with fuzz/corpus/. Fails on a crash, a sanitizer report, a leak, an
# allocation above FUZZ_MALLOC_MB (default 256: a header may not make a reader allocate more)
# or a resident size above FUZZ_RSS_MB (default 1024).
# Run from the repository root; needs clang++ and libclang-rt-14-dev (libFuzzer).
set -euo pipefail
seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out/corpus"
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Iinclude -Itools/tgk -Itests fuzz/tensor_file_fuzzer.cc tools/tgk/safetensors.cc tools/tgk/npy.cc \
  src/runtime/error.cc -o "$out/tensor_file_fuzzer"
# New inputs go to the scratch corpus (first directory), never into the checked-in seeds.
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
  "$out/tensor_file_fuzzer" "$out/corpus" fuzz/corpus \
  -max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-1024}" \
  -malloc_limit_mb="${FUZZ_MALLOC_MB:-256}" -max_len=65536 -timeout=10 \
  -artifact_prefix="$out/" -print_final_stats=1
