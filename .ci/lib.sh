# shellcheck shell=bash
# Shared by .ci/main.sh and .ci/test.sh (sourced, not run): dependency set-up and one
# configure + build (+ test) step. Runs from the repository root.

# Every dependency is a Debian 12 package; README.md says what each is for.
TGK_PACKAGES=(build-essential cmake ninja-build pkg-config clang libomp-dev libclang-rt-14-dev
              libhwy-dev libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
              python3-dev python3-venv libplplot-dev plplot-driver-cairo)
TGK_JOBS=$(nproc)

# Installs the packages that are missing (apt-get as root, or through sudo); does nothing, and
# needs no privileges, when all are there.
tgk_install_dependencies() {
  local missing=() package
  for package in "${TGK_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null) != installed ]]; then
      missing+=("$package")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  local as_root=()
  if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
      echo "missing packages (run as root to install them): ${missing[*]}" >&2
      return 1
    fi
    as_root=(sudo)
  fi
  echo "== installing ${missing[*]}"
  "${as_root[@]}" apt-get update -q &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# tgk_build DIR [CMAKE_ARGS...] [-- NINJA_TARGETS...]: configures and builds; prints the build
# log only when the build fails.
tgk_build() {
  local dir=$1 cmake_args=() targets=()
  shift
  while (($#)) && [[ $1 != -- ]]; do cmake_args+=("$1"); shift; done
  (($#)) && shift && targets=("$@")
  local start=$SECONDS log="$dir.build.log"
  mkdir -p "$dir"
  echo "== $dir: configure and build"
  if ! { cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}" &&
         ninja -C "$dir" -j "$TGK_JOBS" "${targets[@]}"; } >"$log" 2>&1; then
    tail -n 200 "$log"
    echo "== $dir: BUILD FAILED (full log: $log)"
    return 1
  fi
  echo "== $dir: built in $((SECONDS - start)) s"
}

# tgk_test DIR [CTEST_ARGS...]: runs ctest and prints its summary; when a test fails, also the
# output of the failing tests (everything but the per-test progress lines).
tgk_test() {
  local dir=$1 start=$SECONDS log="$1.ctest.log" rc=0
  shift
  echo "== $dir: ctest $*"
  ctest --test-dir "$dir" -j "$TGK_JOBS" --output-on-failure "$@" >"$log" 2>&1 || rc=$?
  if ((rc == 0)); then
    grep -E '^[0-9]+% tests passed|^Total Test time' "$log"
  else
    grep -Ev '^ *(Start +[0-9]+:|[0-9]+/[0-9]+ Test +#[0-9]+:.* +Passed +)' "$log"
  fi
  echo "== $dir: tests ran in $((SECONDS - start)) s (full log: $log)"
  return $rc
}
