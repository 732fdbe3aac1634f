#!/usr/bin/env bash
# Usage: [OBJDUMP=objdump] keeps_cache_hints.sh LIBRARY KERNEL...
#
# Every instantiation of each KERNEL on every target compiled into LIBRARY still issues a cache
# hint. A dropped hint changes no bit, so no kernel test sees it, but GCC 12 at -O3 dropped whole
# loops of them (tgk/prefetch.h says how), and a kernel then streamed up to 35% slower.
#
# KERNEL is an extended regular expression for an instantiation's demangled name inside a
# Highway target's namespace: KktKernel, TqEncodeFastKernel<[0-9u, ]+> or
# fav::VecKernel<[0-9]+u>::Run<[0-9]+u. Its hints count wherever a function whose name holds the
# instantiation has them: the lane bodies, or RunGroups where they are inlined.
set -euo pipefail
if (($# < 2)); then
  echo "usage: $0 LIBRARY KERNEL..." >&2
  exit 2
fi
library=$1
shift
# The patterns reach awk one a line (they may hold spaces).
kernels=$(printf '%s\n' "$@")
"${OBJDUMP:-objdump}" -d --no-show-raw-insn -C "$library" | awk -v kernels="$kernels" '
  BEGIN { n = split(kernels, kernel, "\n") }
  /^[0-9a-f]+ <.*>:$/ { name = $0; names[name] = 1; next }
  /\tprefetch/ { hints[name]++ }
  END {
    for (name in names) {
      for (i = 1; i <= n; ++i) {
        pattern = "N_[A-Z0-9_]+::" kernel[i]
        rest = name
        while (match(rest, pattern)) {
          key = substr(rest, RSTART, RLENGTH)
          keys[key] = 1
          found[kernel[i]] = 1
          rest = substr(rest, RSTART + RLENGTH)
        }
      }
    }
    failed = 0
    for (i = 1; i <= n; ++i) {
      if (!(kernel[i] in found)) {
        printf "%s: no function of this kernel in the library\n", kernel[i]
        failed = 1
      }
    }
    checked = 0
    for (key in keys) {
      total = 0
      for (name in hints) if (index(name, key)) total += hints[name]
      ++checked
      if (total == 0) {
        printf "%s: no cache hint left\n", key
        failed = 1
      }
    }
    printf "%d kernel instantiations checked\n", checked
    exit failed
  }'
