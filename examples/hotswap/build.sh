#!/bin/sh
# Build the hot-swap example: the host program and the plugin.
#
#   ./build.sh [--arch=x86_64|aarch64] [--linker=lld|tslink|PATH] [--out=DIR] [host] [plugin]
#
# With no target, builds both. --linker picks the linker for this run:
#   lld      clang -fuse-ld=lld (the default)
#   tslink   tslink from PATH, else this repository's bin/tslink.js; the
#            plugin is then linked with -Wl,--incremental,--explain, so a
#            rebuild after an edit patches the previous plugin.so
#   PATH     clang --ld-path=PATH (incremental flags too if its name
#            contains "tslink")
# LINKER and ARCH in the environment set the defaults. Sources are read from
# this script's directory; outputs (host, plugin.o, plugin.so) go to --out
# (default: the same directory). AArch64 output runs under qemu-aarch64.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
arch=${ARCH:-$(uname -m)}
linker=${LINKER:-lld}
out=$here
targets=

for arg in "$@"; do
  case $arg in
    --arch=*) arch=${arg#--arch=} ;;
    --linker=*) linker=${arg#--linker=} ;;
    --out=*) out=${arg#--out=} ;;
    host | plugin) targets="$targets $arg" ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ -n "$targets" ] || targets="host plugin"
case $arch in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "build.sh: unsupported architecture: $arch" >&2; exit 2 ;;
esac

incremental=
case $linker in
  lld) ld="-fuse-ld=lld" ;;
  tslink)
    tslink=$(command -v tslink || true)
    [ -n "$tslink" ] || tslink=$here/../../bin/tslink.js
    [ -x "$tslink" ] || { echo "build.sh: tslink not found (put it on PATH or pass --linker=PATH)" >&2; exit 2; }
    ld="--ld-path=$tslink"
    incremental=yes
    ;;
  *)
    ld="--ld-path=$linker"
    case ${linker##*/} in *tslink*) incremental=yes ;; esac
    ;;
esac

mkdir -p "$out"
cc="clang --target=$arch-linux-gnu"

run() {
  echo "+ $*"
  "$@"
}

for target in $targets; do
  case $target in
    host)
      run $cc -O2 -Wall -I"$here" -c "$here/host.c" -o "$out/host.o"
      run $cc "$ld" "$out/host.o" -ldl -o "$out/host"
      ;;
    plugin)
      # -ffunction-sections -fdata-sections: every function and object is
      # its own section, which an incremental linker can patch alone.
      run $cc -O2 -Wall -fPIC -ffunction-sections -fdata-sections -I"$here" -c "$here/plugin.c" -o "$out/plugin.o"
      if [ -n "$incremental" ]; then
        run $cc -shared "$ld" -Wl,--incremental,--explain "$out/plugin.o" -o "$out/plugin.so"
      else
        run $cc -shared "$ld" "$out/plugin.o" -o "$out/plugin.so"
      fi
      ;;
  esac
done
