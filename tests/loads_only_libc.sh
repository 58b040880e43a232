#!/bin/sh
# loads_only_libc.sh BINARY: fails (listing them) if BINARY needs a shared library besides libc
# and the dynamic loader. For the lean helper binaries (kelp_lean_executable in CMakeLists.txt).
set -eu
needed=$(readelf -d "$1" | awk '/\(NEEDED\)/ { print $5 }')
echo "$1 needs: $(echo $needed)"
extra=$(echo "$needed" | grep -v -x -e '\[libc\.so\.6\]' -e '\[ld-linux-x86-64\.so\.2\]' || true)
if [ -n "$extra" ]; then
  echo "unexpected shared libraries: $(echo $extra)"
  exit 1
fi
