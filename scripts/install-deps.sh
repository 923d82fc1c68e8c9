#!/usr/bin/env bash
# Installs the Debian packages tslink's demo and tests use, when missing:
# clang (compiler for both targets), lld (the reference linker), llvm
# (readelf, nm, objdump, ar, addr2line), qemu-user (runs AArch64 programs),
# the AArch64 cross C library, and the AArch64 cross C++ library
# (libstdc++ headers and static archives, for the static glibc C++ tests).
set -euo pipefail

need=()
command -v clang >/dev/null || need+=(clang)
command -v ld.lld >/dev/null || need+=(lld)
command -v llvm-readelf >/dev/null && command -v llvm-ar >/dev/null || need+=(llvm)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-dev-arm64-cross gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null && [ -d /usr/aarch64-linux-gnu/include/c++ ] || need+=(g++-aarch64-linux-gnu)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
