#!/bin/sh
# is_static.sh BINARY: fails unless BINARY is a static executable (no program interpreter, no
# shared library). For the lean helper binaries (kelp_lean_executable in CMakeLists.txt).
set -eu
headers=$(readelf -l -d "$1")
if echo "$headers" | grep -q -e 'INTERP' -e '(NEEDED)'; then
  echo "$1 is dynamically linked:"
  echo "$headers" | grep -e 'interpreter' -e '(NEEDED)'
  exit 1
fi
echo "$1 is static"
