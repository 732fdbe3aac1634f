#!/usr/bin/env bash
# README command (3), and a step of .ci/test.sh: the Python package. Installs the build and
# test tools from PyPI into the virtual environment build/python-venv, builds the package into
# it with `pip install .` (scikit-build-core: the library and the extension module only, in the
# persistent build tree build/python/, so a rerun rebuilds only what changed; warnings are
# errors here as in the other CI builds) and runs its tests (python/tests).
# The CLI parity test runs the tgk tool named by TGK_TOOL, by default build/gcc's when it is
# there (.ci/test.sh builds it first); without one it is skipped, and says so.
# Exits non-zero if the build fails or pytest does not pass, "no tests collected" (exit 5)
# included.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source .ci/lib.sh
tgk_install_dependencies || exit 1

start=$SECONDS
venv=build/python-venv
log=build/python.build.log
mkdir -p build
echo "== $venv: pip install . and pytest python/tests"
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" || exit 1
fi
# Build isolation off: the build tools stay in the venv, so the build tree's paths to them stay
# valid and a rerun is incremental.
if ! { "$venv/bin/python" -m pip install -q scikit-build-core nanobind numpy ml_dtypes pytest &&
       "$venv/bin/python" -m pip install -v --no-build-isolation \
         --config-settings=cmake.define.TGK_WERROR=ON . ; } >"$log" 2>&1; then
  tail -n 200 "$log"
  echo "== $venv: BUILD FAILED (full log: $log)"
  exit 1
fi
echo "== $venv: built in $((SECONDS - start)) s"

default_tool=build/gcc/tools/tgk/tgk
if [[ -z ${TGK_TOOL:-} && -x $default_tool ]]; then
  export TGK_TOOL=$PWD/$default_tool
fi
"$venv/bin/python" -m pytest python/tests -q -rs
rc=$?
echo "== $venv: built and tested in $((SECONDS - start)) s"
if ((rc != 0)); then
  ((rc == 5)) && echo "== pytest collected no tests"
  echo "== python: FAILED (pytest exit $rc)"
  exit 1
fi
