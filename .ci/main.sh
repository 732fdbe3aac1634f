#!/usr/bin/env bash
# README command (1): installs missing packages, builds tgk in Release (build/release: library,
# tool, benchmarks; the tests are command (2)'s) and runs the tgk tool, by default
# `tgk bench` (every kernel at its default shape); other arguments go to the tool instead.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source .ci/lib.sh
tgk_install_dependencies || exit 1
tgk_build build/release -DCMAKE_BUILD_TYPE=Release -DTGK_BUILD_TESTS=OFF || exit 1
(($#)) || set -- bench
echo "== build/release/tools/tgk/tgk $*"
exec build/release/tools/tgk/tgk "$@"
