#!/usr/bin/env bash
# Copies built benchmark programs, every shared library they load and the dynamic loader into
# one folder, so that they run on a host without tgk's Debian packages (a lent benchmark
# machine, say):   perf/bundle.sh BUILD_DIR OUT_DIR   then, there:   OUT_DIR/run PROGRAM [ARGS]
set -euo pipefail
build=$1
out=$2
mkdir -p "$out/lib"
for program in "$build"/perf/*_bench "$build"/tools/tgk/tgk; do
  [ -x "$program" ] || continue
  cp "$program" "$out/"
  ldd "$program" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
    [ -f "$lib" ] && cp -L "$lib" "$out/lib/"
  done
done
cat > "$out/run" <<'RUN'
#!/usr/bin/env bash
# Runs a bundled program with the bundled loader and libraries, whatever the host's glibc.
here=$(cd "$(dirname "$0")" && pwd)
program=$1
shift
exec "$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib" "$here/$program" "$@"
RUN
chmod +x "$out/run"
