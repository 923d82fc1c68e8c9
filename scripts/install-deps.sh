#!/usr/bin/env bash
# Installs the Debian packages tslink's demo and tests use, when missing:
# clang (compiler for both targets), lld (the reference linker), llvm
# (readelf, nm, objdump, ar, addr2line), qemu-user (runs AArch64 programs),
# the AArch64 cross C library, the AArch64 cross C++ library
# (libstdc++ headers and static archives, for the static glibc C++ tests),
# and the Lua, SQLite and zlib -dev packages whose static archives the Debian
# workload tests link, for the host and, as multiarch packages, for arm64
# (this adds the arm64 architecture to dpkg; the arm64 -dev packages bring
# libc6-dev:arm64, which clang --target=aarch64-linux-gnu then prefers to the
# cross C library: the same glibc release).
set -euo pipefail

need=()
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
command -v llvm-readelf >/dev/null && command -v llvm-ar >/dev/null || need+=(llvm)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-dev-arm64-cross gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null && [ -d /usr/aarch64-linux-gnu/include/c++ ] || need+=(g++-aarch64-linux-gnu)
command -v wine >/dev/null || need+=(wine wine64)
[ -f /usr/x86_64-w64-mingw32/lib/libmsvcrt.a ] || need+=(mingw-w64-x86-64-dev)
ls /usr/lib/gcc/x86_64-w64-mingw32/*-win32/libstdc++.a >/dev/null 2>&1 || need+=(g++-mingw-w64-x86-64-win32)
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
host=$(dpkg --print-architecture)
for pkg in liblua5.4-dev libsqlite3-dev zlib1g-dev; do
  installed "$pkg:$host" || need+=("$pkg:$host")
  installed "$pkg:arm64" || need+=("$pkg:arm64")
done

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${need[*]}"
  if [ "$host" != arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
