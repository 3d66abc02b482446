#!/usr/bin/env bash
# Installs the system tools the build needs and a fresh machine may lack:
#   cmake         deno_core's QuickJS-ng backend (crate v8x) builds WAMR with it
#   libsimde-dev  header-only SIMD library WAMR includes (build/offline.cmake
#                 keeps CMake from cloning it from GitHub at build time)
#   nats-server   the NATS sink's tests start a real nats-server (Debian puts
#                 it in /usr/sbin, which a non-root PATH lacks)
#   postgresql    the PostgreSQL store's tests start a throwaway cluster of
#                 their own (initdb + postgres from /usr/lib/postgresql)
# Uses apt-get (as root, or through sudo); falls back to pip for cmake.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
[ -f /usr/include/simde/wasm/simd128.h ] || need+=(libsimde-dev)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

echo "setup: installing ${need[*]}" >&2
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
elif [[ " ${need[*]} " == *" cmake "* ]] && command -v pip3 >/dev/null 2>&1; then
  pip3 install --user cmake
  echo "setup: add ~/.local/bin to PATH; simde headers must be installed by hand" >&2
else
  echo "setup: please install ${need[*]} (cmake, the simde headers, nats-server, postgresql)" >&2
  exit 1
fi
